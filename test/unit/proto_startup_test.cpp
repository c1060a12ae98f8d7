// Tests of the first-packet parser: every way a client's first bytes can be incomplete or wrong.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "proto/builders.h"
#include "proto/codes.h"
#include "proto/header.h"
#include "proto/startup.h"

namespace sluice::proto {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

constexpr uint32_t kNoPacketLimit = 0x7fffffff;

// A string literal with its embedded NULs (all but the implicit final one).
template <size_t N>
std::string lit(const char (&s)[N]) {
    return std::string(s, N - 1);
}

const uint8_t* bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// A startup-phase packet with the given code and raw payload; the length is computed.
std::string rawPacket(int32_t code, const std::string& payload) {
    std::string out;
    appendU32(out, static_cast<uint32_t>(8 + payload.size()));
    appendI32(out, code);
    out += payload;
    return out;
}

// A packet whose length field says `length`, whatever the bytes that follow.
std::string withLength(uint32_t length, std::string rest) {
    std::string out;
    appendU32(out, length);
    return out + rest;
}

std::string startup(const Params& params) {
    std::string out;
    appendStartupMessage(out, params);
    return out;
}

struct Outcome {
    ParseStatus status;
    StartupPacket packet;
    size_t consumed = 0;
    ParseError error;
};

Outcome parse(const std::string& data, uint32_t maxPacketSize = kNoPacketLimit) {
    Outcome o;
    o.consumed = 12345;
    o.status = parseStartupPacket(bytes(data), data.size(), maxPacketSize, o.packet, o.consumed, o.error);
    return o;
}

void expectError(const Outcome& o, std::string_view sqlstate, std::string_view message) {
    EXPECT_EQ(o.status, ParseStatus::Error);
    EXPECT_EQ(o.error.sqlstate, sqlstate);
    EXPECT_EQ(o.error.message, message);
    EXPECT_EQ(o.consumed, 0u);
}

TEST(ProtoStartup, ParsesParametersInOrder) {
    std::string data = startup({{"user", "alice"}, {"database", "shop"}, {"application_name", "psql"}});
    Outcome o = parse(data);
    ASSERT_EQ(o.status, ParseStatus::Ok) << o.error.message;
    EXPECT_EQ(o.consumed, data.size());
    EXPECT_EQ(o.packet.kind, StartupKind::Startup);
    EXPECT_EQ(o.packet.major, 3);
    EXPECT_EQ(o.packet.minor, 0);
    EXPECT_EQ(o.packet.params,
              (Params{{"user", "alice"}, {"database", "shop"}, {"application_name", "psql"}}));
    ASSERT_NE(o.packet.find("application_name"), nullptr);
    EXPECT_EQ(*o.packet.find("application_name"), "psql");
    EXPECT_EQ(o.packet.find("client_encoding"), nullptr);
    EXPECT_TRUE(o.packet.protocolOptions.empty());
}

TEST(ProtoStartup, ConsumesOnlyItsOwnPacket) {
    std::string first = startup({{"user", "bob"}});
    std::string data = first + lit("Q\0\0\0\x05x");  // a pipelining client's next message
    Outcome o = parse(data);
    ASSERT_EQ(o.status, ParseStatus::Ok);
    EXPECT_EQ(o.consumed, first.size());
}

TEST(ProtoStartup, DatabaseDefaultsToUser) {
    Outcome absent = parse(startup({{"user", "carol"}, {"TimeZone", "UTC"}}));
    ASSERT_EQ(absent.status, ParseStatus::Ok);
    ASSERT_NE(absent.packet.find("database"), nullptr);
    EXPECT_EQ(*absent.packet.find("database"), "carol");
    EXPECT_EQ(absent.packet.params.size(), 3u);

    Outcome empty = parse(startup({{"database", ""}, {"user", "carol"}}));
    ASSERT_EQ(empty.status, ParseStatus::Ok);
    EXPECT_EQ(empty.packet.params, (Params{{"database", "carol"}, {"user", "carol"}}));
}

TEST(ProtoStartup, EmptyValuesAreAllowed) {
    Outcome o = parse(startup({{"user", "u"}, {"options", ""}}));
    ASSERT_EQ(o.status, ParseStatus::Ok);
    ASSERT_NE(o.packet.find("options"), nullptr);
    EXPECT_EQ(*o.packet.find("options"), "");
}

TEST(ProtoStartup, NewerMinorAndProtocolOptionsAreAccepted) {
    std::string payload = lit("user\0u\0_pq_.compression\0on\0_pq_.other\0\0\0");
    Outcome o = parse(rawPacket((3 << 16) | 2, payload));
    ASSERT_EQ(o.status, ParseStatus::Ok) << o.error.message;
    EXPECT_EQ(o.packet.major, 3);
    EXPECT_EQ(o.packet.minor, 2);
    EXPECT_EQ(o.packet.protocolOptions, (std::vector<std::string>{"_pq_.compression", "_pq_.other"}));
    EXPECT_EQ(o.packet.params, (Params{{"user", "u"}, {"database", "u"}}));
}

TEST(ProtoStartup, EveryTruncationOfAValidPacketNeedsMore) {
    std::vector<std::string> packets = {startup({{"user", "alice"}, {"database", "shop"}})};
    std::string cancel;
    appendCancelRequest(cancel, 42, -7);
    packets.push_back(cancel);
    std::string ssl;
    appendSslRequest(ssl);
    packets.push_back(ssl);
    std::string gss;
    appendGssEncRequest(gss);
    packets.push_back(gss);

    for (const std::string& packet : packets) {
        for (size_t n = 0; n < packet.size(); ++n) {
            StartupPacket out;
            size_t consumed = 99;
            ParseError err;
            EXPECT_EQ(parseStartupPacket(bytes(packet), n, kNoPacketLimit, out, consumed, err), ParseStatus::NeedMore)
                << "prefix of " << n << " bytes";
            EXPECT_EQ(consumed, 0u);
        }
        EXPECT_EQ(parse(packet).status, ParseStatus::Ok);
    }
}

TEST(ProtoStartup, LengthBelowEightIsRefusedAtOnce) {
    for (uint32_t length : {0u, 1u, 4u, 7u}) {
        // Only the length field has arrived: no point waiting for the rest.
        expectError(parse(withLength(length, "")), sqlstate::kProtocolViolation, "invalid length of startup packet");
    }
}

TEST(ProtoStartup, OversizedPacketIsRefusedBeforeItArrives) {
    expectError(parse(withLength(10001, "")), sqlstate::kProtocolViolation, "invalid length of startup packet");
    expectError(parse(withLength(0xffffffff, "")), sqlstate::kProtocolViolation, "invalid length of startup packet");
    // max_packet_size below PostgreSQL's 10000 wins.
    std::string data = startup({{"user", "alice"}, {"application_name", std::string(100, 'a')}});
    expectError(parse(data, 100), sqlstate::kProtocolViolation, "invalid length of startup packet");
    EXPECT_EQ(parse(data, static_cast<uint32_t>(data.size())).status, ParseStatus::Ok);
}

TEST(ProtoStartup, PacketOfExactlyTheLimitIsAccepted) {
    // user\0u\0 + application_name\0 + value\0 + terminator, padded to 10000 bytes in all.
    const size_t fixed = 8 + 7 + 17 + 1 + 1;
    std::string data = startup({{"user", "u"}, {"application_name", std::string(10000 - fixed, 'x')}});
    ASSERT_EQ(data.size(), 10000u);
    EXPECT_EQ(parse(data).status, ParseStatus::Ok);
    std::string tooBig = startup({{"user", "u"}, {"application_name", std::string(10001 - fixed, 'x')}});
    expectError(parse(tooBig), sqlstate::kProtocolViolation, "invalid length of startup packet");
}

TEST(ProtoStartup, UnsupportedMajorVersionIsRefusedWithPostgresWording) {
    std::string v2 = rawPacket(2 << 16, lit("user\0u\0\0"));
    expectError(parse(v2), sqlstate::kFeatureNotSupported,
                "unsupported frontend protocol 2.0: server supports 3.0 to 3.0");
    // Known as soon as the code is in, before the rest of the packet.
    expectError(parse(v2.substr(0, 8)), sqlstate::kFeatureNotSupported,
                "unsupported frontend protocol 2.0: server supports 3.0 to 3.0");
    expectError(parse(rawPacket((4 << 16) | 1, lit("user\0u\0\0"))), sqlstate::kFeatureNotSupported,
                "unsupported frontend protocol 4.1: server supports 3.0 to 3.0");
    // A request code next to the known ones is just an odd protocol version.
    expectError(parse(rawPacket(80877105, "")), sqlstate::kFeatureNotSupported,
                "unsupported frontend protocol 1234.5681: server supports 3.0 to 3.0");
}

TEST(ProtoStartup, MissingOrEmptyUserIsRefused) {
    expectError(parse(startup({{"database", "shop"}})), sqlstate::kInvalidAuthorizationSpecification,
                "no PostgreSQL user name specified in startup packet");
    expectError(parse(startup({{"user", ""}, {"database", "shop"}})), sqlstate::kInvalidAuthorizationSpecification,
                "no PostgreSQL user name specified in startup packet");
    expectError(parse(startup({})), sqlstate::kInvalidAuthorizationSpecification,
                "no PostgreSQL user name specified in startup packet");
}

TEST(ProtoStartup, DuplicateParameterIsRefused) {
    expectError(parse(startup({{"user", "a"}, {"database", "d"}, {"user", "b"}})), sqlstate::kProtocolViolation,
                "duplicate startup parameter \"user\"");
}

TEST(ProtoStartup, LayoutErrorsAreRefused) {
    const std::string terminator = "invalid startup packet layout: expected terminator as last byte";
    // Last value not followed by the empty-name terminator.
    expectError(parse(rawPacket(kProtocolV3, lit("user\0u\0"))), sqlstate::kProtocolViolation, terminator);
    // Name with no NUL at all.
    expectError(parse(rawPacket(kProtocolV3, "user")), sqlstate::kProtocolViolation, terminator);
    // Nothing after the version.
    expectError(parse(rawPacket(kProtocolV3, "")), sqlstate::kProtocolViolation, terminator);
    // Bytes after the terminator.
    expectError(parse(rawPacket(kProtocolV3, lit("user\0u\0\0junk"))), sqlstate::kProtocolViolation,
                terminator);
    // A name whose value is missing.
    expectError(parse(rawPacket(kProtocolV3, lit("user\0u\0database\0"))), sqlstate::kProtocolViolation,
                "invalid startup packet layout: startup parameter \"database\" has no value");
}

TEST(ProtoStartup, CancelRequestCarriesPidAndKey) {
    std::string data;
    appendCancelRequest(data, 4242, -123456789);
    Outcome o = parse(data);
    ASSERT_EQ(o.status, ParseStatus::Ok);
    EXPECT_EQ(o.consumed, 16u);
    EXPECT_EQ(o.packet.kind, StartupKind::CancelRequest);
    EXPECT_EQ(o.packet.cancelPid, 4242);
    EXPECT_EQ(o.packet.cancelKey, -123456789);
}

TEST(ProtoStartup, CancelRequestOfWrongSizeIsRefused) {
    expectError(parse(rawPacket(kCancelRequestCode, "1234")), sqlstate::kProtocolViolation,
                "invalid length of cancel request packet");
    expectError(parse(rawPacket(kCancelRequestCode, "123456789012")), sqlstate::kProtocolViolation,
                "invalid length of cancel request packet");
    // Refused with only the header in, whatever the length promised.
    expectError(parse(rawPacket(kCancelRequestCode, std::string(100, 'x')).substr(0, 8)),
                sqlstate::kProtocolViolation, "invalid length of cancel request packet");
}

TEST(ProtoStartup, EncryptionRequests) {
    Outcome ssl = parse(rawPacket(kSslRequestCode, ""));
    ASSERT_EQ(ssl.status, ParseStatus::Ok);
    EXPECT_EQ(ssl.packet.kind, StartupKind::SslRequest);
    EXPECT_EQ(ssl.consumed, 8u);

    Outcome gss = parse(rawPacket(kGssEncRequestCode, ""));
    ASSERT_EQ(gss.status, ParseStatus::Ok);
    EXPECT_EQ(gss.packet.kind, StartupKind::GssEncRequest);
    EXPECT_EQ(gss.consumed, 8u);

    expectError(parse(rawPacket(kSslRequestCode, "abcd")), sqlstate::kProtocolViolation,
                "invalid length of SSL negotiation packet");
    expectError(parse(rawPacket(kGssEncRequestCode, "abcd")), sqlstate::kProtocolViolation,
                "invalid length of GSSAPI negotiation packet");
}

TEST(ProtoStartup, SslRequestFollowedByStartupParsesOneAtATime) {
    std::string data;
    appendSslRequest(data);
    std::string second = startup({{"user", "u"}});
    data += second;
    Outcome first = parse(data);
    ASSERT_EQ(first.status, ParseStatus::Ok);
    EXPECT_EQ(first.packet.kind, StartupKind::SslRequest);
    Outcome next = parse(data.substr(first.consumed));
    ASSERT_EQ(next.status, ParseStatus::Ok);
    EXPECT_EQ(next.packet.kind, StartupKind::Startup);
    EXPECT_EQ(next.consumed, second.size());
}

TEST(ProtoStartup, OutputUntouchedOnError) {
    StartupPacket packet;
    packet.params = {{"keep", "me"}};
    size_t consumed = 5;
    ParseError err;
    std::string data = startup({{"database", "x"}});
    EXPECT_EQ(parseStartupPacket(bytes(data), data.size(), kNoPacketLimit, packet, consumed, err),
              ParseStatus::Error);
    EXPECT_EQ(packet.params, (Params{{"keep", "me"}}));
}

}  // namespace
}  // namespace sluice::proto
