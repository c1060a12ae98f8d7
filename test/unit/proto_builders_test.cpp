// Byte-exact checks of the message writers against layouts written out by hand from the
// "Message Formats" section of the PostgreSQL protocol documentation.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/builders.h"
#include "proto/codes.h"

namespace sluice::proto {
namespace {

template <size_t N>
std::string lit(const char (&s)[N]) {
    return std::string(s, N - 1);
}

TEST(ProtoBuilders, AuthenticationRequests) {
    std::string out;
    appendAuthenticationOk(out);
    EXPECT_EQ(out, lit("R\0\0\0\x08\0\0\0\0"));

    out.clear();
    appendAuthenticationCleartext(out);
    EXPECT_EQ(out, lit("R\0\0\0\x08\0\0\0\x03"));

    out.clear();
    const uint8_t salt[4] = {0xde, 0xad, 0x00, 0x01};
    appendAuthenticationMd5(out, salt);
    EXPECT_EQ(out, lit("R\0\0\0\x0c\0\0\0\x05\xde\xad\0\x01"));

    out.clear();
    std::string_view mechanisms[] = {"SCRAM-SHA-256"};
    appendAuthenticationSasl(out, mechanisms);
    EXPECT_EQ(out, lit("R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0"));

    out.clear();
    appendAuthenticationSaslContinue(out, "xyz");
    EXPECT_EQ(out, lit("R\0\0\0\x0b\0\0\0\x0bxyz"));

    out.clear();
    appendAuthenticationSaslFinal(out, "v=1");
    EXPECT_EQ(out, lit("R\0\0\0\x0b\0\0\0\x0cv=1"));
}

TEST(ProtoBuilders, ErrorResponseCarriesSeverityTwiceThenCodeAndMessage) {
    std::string out;
    appendErrorResponse(out, "FATAL", sqlstate::kInvalidPassword, "bad");
    EXPECT_EQ(out, lit("E\0\0\0\x1f"
                       "SFATAL\0VFATAL\0C28P01\0Mbad\0\0"));
}

TEST(ProtoBuilders, ErrorResponseAddsDetailAndHintOnlyWhenGiven) {
    std::string out;
    appendErrorResponse(out, "ERROR", "0A000", "m", "d", "h");
    EXPECT_EQ(out, lit("E\0\0\0\x23"
                       "SERROR\0VERROR\0C0A000\0Mm\0Dd\0Hh\0\0"));
    out.clear();
    appendErrorResponse(out, "ERROR", "0A000", "m", {}, "h");
    EXPECT_EQ(out, lit("E\0\0\0\x20"
                       "SERROR\0VERROR\0C0A000\0Mm\0Hh\0\0"));
}

TEST(ProtoBuilders, NoticeResponse) {
    std::string out;
    appendNoticeResponse(out, "NOTICE", "00000", "hi");
    EXPECT_EQ(out, lit("N\0\0\0\x20"
                       "SNOTICE\0VNOTICE\0C00000\0Mhi\0\0"));
}

TEST(ProtoBuilders, SessionStartMessages) {
    std::string out;
    appendParameterStatus(out, "a", "b");
    appendBackendKeyData(out, 1, -2);
    appendReadyForQuery(out, 'I');
    EXPECT_EQ(out, lit("S\0\0\0\x08"
                       "a\0b\0"
                       "K\0\0\0\x0c\0\0\0\x01\xff\xff\xff\xfe"
                       "Z\0\0\0\x05I"));
}

TEST(ProtoBuilders, NegotiateProtocolVersionSendsTheFullVersionNumber) {
    // libpq reads this int32 as major << 16 | minor, as PostgreSQL itself sends it.
    std::string out;
    std::vector<std::string> options = {"_pq_.x"};
    appendNegotiateProtocolVersion(out, 0, options);
    EXPECT_EQ(out, lit("v\0\0\0\x13\0\x03\0\0\0\0\0\x01_pq_.x\0"));

    out.clear();
    appendNegotiateProtocolVersion(out, 0, {});
    EXPECT_EQ(out, lit("v\0\0\0\x0c\0\x03\0\0\0\0\0\0"));
}

TEST(ProtoBuilders, ResultSetMessages) {
    std::string out;
    const Column columns[] = {{"name", 25, -1}};
    appendRowDescription(out, columns);
    EXPECT_EQ(out, lit("T\0\0\0\x1d\0\x01"
                       "name\0"
                       "\0\0\0\0"      // table oid
                       "\0\0"          // attribute number
                       "\0\0\0\x19"    // type oid 25 (text)
                       "\xff\xff"      // typlen -1
                       "\xff\xff\xff\xff"  // typmod -1
                       "\0\0"));       // text format

    out.clear();
    const std::optional<std::string> values[] = {"ab", std::nullopt, ""};
    appendDataRow(out, values);
    EXPECT_EQ(out, lit("D\0\0\0\x14\0\x03"
                       "\0\0\0\x02"
                       "ab"
                       "\xff\xff\xff\xff"
                       "\0\0\0\0"));

    out.clear();
    appendCommandComplete(out, "SHOW");
    appendEmptyQueryResponse(out);
    EXPECT_EQ(out, lit("C\0\0\0\x09SHOW\0I\0\0\0\x04"));
}

TEST(ProtoBuilders, FrontendMessages) {
    std::string out;
    appendQuery(out, "SELECT 1");
    EXPECT_EQ(out, lit("Q\0\0\0\x0dSELECT 1\0"));

    out.clear();
    appendSync(out);
    appendTerminate(out);
    EXPECT_EQ(out, lit("S\0\0\0\x04X\0\0\0\x04"));

    out.clear();
    appendPasswordMessage(out, "pw");
    EXPECT_EQ(out, lit("p\0\0\0\x07pw\0"));

    out.clear();
    appendSaslInitialResponse(out, "SCRAM-SHA-256", "n,,n=,r=abc");
    EXPECT_EQ(out, lit("p\0\0\0\x21SCRAM-SHA-256\0\0\0\0\x0bn,,n=,r=abc"));

    out.clear();
    appendSaslResponse(out, "c=biws");
    EXPECT_EQ(out, lit("p\0\0\0\x0a"
                       "c=biws"));
}

TEST(ProtoBuilders, StartupPackets) {
    std::string out;
    appendStartupMessage(out, {{"user", "u"}});
    EXPECT_EQ(out, lit("\0\0\0\x10\0\x03\0\0user\0u\0\0"));

    out.clear();
    appendCancelRequest(out, 1, 2);
    EXPECT_EQ(out, lit("\0\0\0\x10\x04\xd2\x16\x2e\0\0\0\x01\0\0\0\x02"));

    out.clear();
    appendSslRequest(out);
    EXPECT_EQ(out, lit("\0\0\0\x08\x04\xd2\x16\x2f"));

    out.clear();
    appendGssEncRequest(out);
    EXPECT_EQ(out, lit("\0\0\0\x08\x04\xd2\x16\x30"));
}

TEST(ProtoBuilders, MessagesAppendAfterExistingBytes) {
    std::string out = "prefix";
    appendReadyForQuery(out, 'T');
    appendReadyForQuery(out, 'E');
    EXPECT_EQ(out, lit("prefixZ\0\0\0\x05TZ\0\0\0\x05" "E"));
}

TEST(ProtoBuilders, MessageBuilderPatchesLengthOnceAndOnDestruction) {
    std::string out;
    {
        MessageBuilder builder(out, 'x');
        builder.addByte(1).addInt16(-1).addInt32(0x01020304).addString("ab").addBytes("cd");
        builder.finish();
        builder.finish();  // a second call changes nothing
    }
    EXPECT_EQ(out, lit("x\0\0\0\x10\x01\xff\xff\x01\x02\x03\x04" "ab\0cd"));

    out.clear();
    { MessageBuilder(out, 'y').addInt32(7); }  // no finish(): the destructor frames it
    EXPECT_EQ(out, lit("y\0\0\0\x08\0\0\0\x07"));

    out.clear();
    { MessageBuilder::untyped(out).addInt32(9); }
    EXPECT_EQ(out, lit("\0\0\0\x08\0\0\0\x09"));
}

TEST(ProtoBuilders, EmbeddedNulCannotBreakFraming) {
    std::string out;
    appendCommandComplete(out, lit("SELECT\0 1"));
    EXPECT_EQ(out, lit("C\0\0\0\x0bSELECT\0"));
}

}  // namespace
}  // namespace sluice::proto
