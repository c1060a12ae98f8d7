// Message-body parsers: round trips through the builders, and malformed bodies.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "proto/builders.h"
#include "proto/codes.h"
#include "proto/header.h"
#include "proto/parse.h"

namespace sluice::proto {
namespace {

template <size_t N>
std::string lit(const char (&s)[N]) {
    return std::string(s, N - 1);
}

const uint8_t* bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// The body of the single message in `message`, after checking its header agrees.
std::string bodyOf(const std::string& message, char expectedType) {
    auto header = peekHeader(bytes(message), message.size());
    EXPECT_TRUE(header.has_value());
    if (!header) return {};
    EXPECT_EQ(header->type, expectedType);
    EXPECT_EQ(header->totalSize(), message.size());
    return message.substr(kHeaderSize);
}

TEST(ProtoParse, ErrorResponseRoundTrip) {
    std::string out;
    appendErrorResponse(out, "FATAL", sqlstate::kTooManyConnections, "too many", "detail here", "hint here");
    std::string body = bodyOf(out, msg::kErrorResponse);
    ErrorFields fields;
    ASSERT_TRUE(parseErrorOrNotice(bytes(body), body.size(), fields));
    EXPECT_EQ(fields.severity, "FATAL");
    EXPECT_EQ(fields.sqlstate, "53300");
    EXPECT_EQ(fields.message, "too many");
    EXPECT_EQ(fields.detail, "detail here");
    EXPECT_EQ(fields.hint, "hint here");
}

TEST(ProtoParse, NoticeRoundTrip) {
    std::string out;
    appendNoticeResponse(out, "WARNING", "01000", "careful");
    std::string body = bodyOf(out, msg::kNoticeResponse);
    ErrorFields fields;
    ASSERT_TRUE(parseErrorOrNotice(bytes(body), body.size(), fields));
    EXPECT_EQ(fields.severity, "WARNING");
    EXPECT_EQ(fields.sqlstate, "01000");
    EXPECT_EQ(fields.message, "careful");
    EXPECT_EQ(fields.detail, "");
}

TEST(ProtoParse, ErrorSeverityPrefersTheUntranslatedField) {
    // A German server: S is localized, V is not; order on the wire must not matter.
    std::string body = lit("SFEHLER\0C42P01\0Mx\0VERROR\0P12\0Ffile.c\0\0");
    ErrorFields fields;
    ASSERT_TRUE(parseErrorOrNotice(bytes(body), body.size(), fields));
    EXPECT_EQ(fields.severity, "ERROR");
    EXPECT_EQ(fields.sqlstate, "42P01");
    EXPECT_EQ(fields.message, "x");

    // Servers before 9.6 send no V.
    std::string old = lit("SERREUR\0C42P01\0Mx\0\0");
    ASSERT_TRUE(parseErrorOrNotice(bytes(old), old.size(), fields));
    EXPECT_EQ(fields.severity, "ERREUR");
}

TEST(ProtoParse, ErrorResponseMalformed) {
    std::string out;
    appendErrorResponse(out, "ERROR", "XX000", "boom", "d");
    std::string body = bodyOf(out, msg::kErrorResponse);
    ErrorFields fields;
    fields.message = "untouched";
    for (size_t n = 0; n < body.size(); ++n)
        EXPECT_FALSE(parseErrorOrNotice(bytes(body), n, fields)) << "truncated to " << n;
    EXPECT_EQ(fields.message, "untouched");
    std::string trailing = body + "Z";
    EXPECT_FALSE(parseErrorOrNotice(bytes(trailing), trailing.size(), fields));
    EXPECT_TRUE(parseErrorOrNotice(bytes(body), body.size(), fields));
}

TEST(ProtoParse, ParameterStatus) {
    std::string out;
    appendParameterStatus(out, "TimeZone", "Europe/Paris");
    std::string body = bodyOf(out, msg::kParameterStatus);
    std::string_view name, value;
    ASSERT_TRUE(parseParameterStatus(bytes(body), body.size(), name, value));
    EXPECT_EQ(name, "TimeZone");
    EXPECT_EQ(value, "Europe/Paris");

    std::string_view n2 = "keep", v2 = "keep";
    for (size_t n = 0; n < body.size(); ++n) EXPECT_FALSE(parseParameterStatus(bytes(body), n, n2, v2)) << n;
    std::string extra = body + lit("x\0");
    EXPECT_FALSE(parseParameterStatus(bytes(extra), extra.size(), n2, v2));
    EXPECT_EQ(n2, "keep");
}

TEST(ProtoParse, BackendKeyData) {
    std::string out;
    appendBackendKeyData(out, 12345, -98765);
    std::string body = bodyOf(out, msg::kBackendKeyData);
    int32_t pid = 0, key = 0;
    ASSERT_TRUE(parseBackendKeyData(bytes(body), body.size(), pid, key));
    EXPECT_EQ(pid, 12345);
    EXPECT_EQ(key, -98765);
    EXPECT_FALSE(parseBackendKeyData(bytes(body), 7, pid, key));
    std::string longer = body + "more";  // a protocol 3.2 key
    EXPECT_FALSE(parseBackendKeyData(bytes(longer), longer.size(), pid, key));
}

AuthRequest parseAuth(const std::string& message, bool& ok) {
    std::string body = bodyOf(message, msg::kAuthentication);
    AuthRequest request;
    ok = parseAuthRequest(bytes(body), body.size(), request);
    return request;
}

TEST(ProtoParse, AuthRequestsRoundTrip) {
    bool ok = false;
    std::string out;
    appendAuthenticationOk(out);
    EXPECT_EQ(parseAuth(out, ok).code, kAuthOk);
    EXPECT_TRUE(ok);

    out.clear();
    appendAuthenticationCleartext(out);
    EXPECT_EQ(parseAuth(out, ok).code, kAuthCleartext);
    EXPECT_TRUE(ok);

    out.clear();
    const uint8_t salt[4] = {1, 2, 0xfe, 0xff};
    appendAuthenticationMd5(out, salt);
    AuthRequest md5 = parseAuth(out, ok);
    ASSERT_TRUE(ok);
    EXPECT_EQ(md5.code, kAuthMd5);
    EXPECT_EQ(std::string(md5.md5Salt, md5.md5Salt + 4), std::string(salt, salt + 4));

    out.clear();
    std::string_view mechanisms[] = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
    appendAuthenticationSasl(out, mechanisms);
    AuthRequest sasl = parseAuth(out, ok);
    ASSERT_TRUE(ok);
    EXPECT_EQ(sasl.code, kAuthSasl);
    EXPECT_EQ(sasl.saslMechanisms, (std::vector<std::string>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}));

    out.clear();
    appendAuthenticationSaslContinue(out, "r=abc,s=xyz,i=4096");
    AuthRequest cont = parseAuth(out, ok);
    ASSERT_TRUE(ok);
    EXPECT_EQ(cont.code, kAuthSaslContinue);
    EXPECT_EQ(cont.data, "r=abc,s=xyz,i=4096");

    out.clear();
    appendAuthenticationSaslFinal(out, "v=sig");
    AuthRequest final = parseAuth(out, ok);
    ASSERT_TRUE(ok);
    EXPECT_EQ(final.code, kAuthSaslFinal);
    EXPECT_EQ(final.data, "v=sig");
}

TEST(ProtoParse, AuthRequestUnsupportedMethodKeepsItsCode) {
    std::string body = lit("\0\0\0\x07");
    AuthRequest request;
    ASSERT_TRUE(parseAuthRequest(bytes(body), body.size(), request));
    EXPECT_EQ(request.code, kAuthGss);
}

TEST(ProtoParse, AuthRequestMalformed) {
    AuthRequest request;
    request.code = 77;
    const std::string bad[] = {
        lit("\0\0\0"),                          // short code
        lit("\0\0\0\0x"),                       // Ok with trailing bytes
        lit("\0\0\0\x05\x01\x02\x03"),          // MD5 with a 3-byte salt
        lit("\0\0\0\x05\x01\x02\x03\x04\x05"),  // MD5 with 5 bytes
        lit("\0\0\0\x0a\0"),                    // SASL with no mechanism
        lit("\0\0\0\x0aSCRAM-SHA-256\0"),       // SASL list not terminated
        lit("\0\0\0\x0aSCRAM-SHA-256"),         // mechanism not terminated
        lit("\0\0\0\x0aSCRAM-SHA-256\0\0x"),    // bytes after the list
    };
    for (const std::string& body : bad) EXPECT_FALSE(parseAuthRequest(bytes(body), body.size(), request));
    EXPECT_EQ(request.code, 77);
}

TEST(ProtoParse, ReadyForQuery) {
    for (char status : {'I', 'T', 'E'}) {
        std::string out;
        appendReadyForQuery(out, status);
        std::string body = bodyOf(out, msg::kReadyForQuery);
        char parsed = 0;
        ASSERT_TRUE(parseReadyForQuery(bytes(body), body.size(), parsed));
        EXPECT_EQ(parsed, status);
    }
    char parsed = '?';
    std::string bad = "X";
    EXPECT_FALSE(parseReadyForQuery(bytes(bad), bad.size(), parsed));
    std::string two = "II";
    EXPECT_FALSE(parseReadyForQuery(bytes(two), two.size(), parsed));
    EXPECT_FALSE(parseReadyForQuery(nullptr, 0, parsed));
    EXPECT_EQ(parsed, '?');
}

TEST(ProtoParse, PasswordMessage) {
    std::string out;
    appendPasswordMessage(out, "md5a3556571e93b0d20722ba62be61e8c2d");
    std::string body = bodyOf(out, msg::kPasswordMessage);
    std::string_view password;
    ASSERT_TRUE(parsePasswordMessage(bytes(body), body.size(), password));
    EXPECT_EQ(password, "md5a3556571e93b0d20722ba62be61e8c2d");

    std::string empty = lit("\0");
    ASSERT_TRUE(parsePasswordMessage(bytes(empty), empty.size(), password));
    EXPECT_EQ(password, "");

    std::string unterminated = "secret";
    EXPECT_FALSE(parsePasswordMessage(bytes(unterminated), unterminated.size(), password));
    std::string trailing = lit("secret\0x");
    EXPECT_FALSE(parsePasswordMessage(bytes(trailing), trailing.size(), password));
    EXPECT_FALSE(parsePasswordMessage(nullptr, 0, password));
}

TEST(ProtoParse, SaslInitialResponseRoundTrip) {
    std::string out;
    appendSaslInitialResponse(out, "SCRAM-SHA-256", "n,,n=,r=rOprNGfwEbeRWgbNEkqO");
    std::string body = bodyOf(out, msg::kPasswordMessage);
    SaslInitialResponse response;
    ASSERT_TRUE(parseSaslInitialResponse(bytes(body), body.size(), response));
    EXPECT_EQ(response.mechanism, "SCRAM-SHA-256");
    EXPECT_EQ(response.data, "n,,n=,r=rOprNGfwEbeRWgbNEkqO");
    for (size_t n = 0; n < body.size(); ++n)
        EXPECT_FALSE(parseSaslInitialResponse(bytes(body), n, response)) << "truncated to " << n;
}

TEST(ProtoParse, SaslInitialResponseWithoutData) {
    std::string body = lit("SCRAM-SHA-256\0\xff\xff\xff\xff");
    SaslInitialResponse response;
    response.data = "stale";
    ASSERT_TRUE(parseSaslInitialResponse(bytes(body), body.size(), response));
    EXPECT_EQ(response.mechanism, "SCRAM-SHA-256");
    EXPECT_EQ(response.data, "");
}

TEST(ProtoParse, SaslInitialResponseMalformed) {
    SaslInitialResponse response;
    const std::string bad[] = {
        lit("SCRAM-SHA-256\0\0\0\0\x05" "abc"),             // length beyond the body
        lit("SCRAM-SHA-256\0\x7f\xff\xff\xff"),          // huge length
        lit("SCRAM-SHA-256\0\xff\xff\xff\xfe"),          // negative other than -1
        lit("SCRAM-SHA-256\0\0\0\0\x01" "ab"),           // bytes after the data
        lit("SCRAM-SHA-256\0\xff\xff\xff\xff" "x"),      // bytes after "no data"
        lit("SCRAM-SHA-256\0\0\0"),                       // short length
        lit("SCRAM-SHA-256"),                             // mechanism not terminated
    };
    for (const std::string& body : bad)
        EXPECT_FALSE(parseSaslInitialResponse(bytes(body), body.size(), response)) << body.size();
}

TEST(ProtoParse, Query) {
    std::string out;
    appendQuery(out, "SHOW POOLS;");
    std::string body = bodyOf(out, msg::kQuery);
    std::string_view sql;
    ASSERT_TRUE(parseQuery(bytes(body), body.size(), sql));
    EXPECT_EQ(sql, "SHOW POOLS;");
    EXPECT_FALSE(parseQuery(bytes(body), body.size() - 1, sql));
    std::string trailing = body + "x";
    EXPECT_FALSE(parseQuery(bytes(trailing), trailing.size(), sql));
}

}  // namespace
}  // namespace sluice::proto
