#include <gtest/gtest.h>

#include <set>

#include "auth/crypto_util.h"

namespace sluice::auth {
namespace {

TEST(AuthCrypto, Base64EncodesRfc4648Vectors) {
    EXPECT_EQ(base64Encode(""), "");
    EXPECT_EQ(base64Encode("f"), "Zg==");
    EXPECT_EQ(base64Encode("fo"), "Zm8=");
    EXPECT_EQ(base64Encode("foo"), "Zm9v");
    EXPECT_EQ(base64Encode("foob"), "Zm9vYg==");
    EXPECT_EQ(base64Encode("fooba"), "Zm9vYmE=");
    EXPECT_EQ(base64Encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64Encode("n,,"), "biws");  // SCRAM's channel-binding attribute without binding
    EXPECT_EQ(base64Encode(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(AuthCrypto, Base64RoundTripsEveryByte) {
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    for (size_t length = 0; length <= all.size(); length += 37) {
        std::string decoded;
        ASSERT_TRUE(base64Decode(base64Encode(all.substr(0, length)), decoded)) << length;
        EXPECT_EQ(decoded, all.substr(0, length));
    }
}

TEST(AuthCrypto, Base64DecodesRfc4648Vectors) {
    std::string out;
    ASSERT_TRUE(base64Decode("", out));
    EXPECT_EQ(out, "");
    ASSERT_TRUE(base64Decode("Zg==", out));
    EXPECT_EQ(out, "f");
    ASSERT_TRUE(base64Decode("Zm8=", out));
    EXPECT_EQ(out, "fo");
    ASSERT_TRUE(base64Decode("Zm9vYmFy", out));
    EXPECT_EQ(out, "foobar");
}

TEST(AuthCrypto, Base64DecodeIsStrict) {
    std::string out;
    EXPECT_FALSE(base64Decode("Zg", out));        // padding missing
    EXPECT_FALSE(base64Decode("Zg=", out));       // padding incomplete
    EXPECT_FALSE(base64Decode("Zg===", out));     // too much padding
    EXPECT_FALSE(base64Decode("Z===", out));      // a lone sextet cannot encode a byte
    EXPECT_FALSE(base64Decode("====", out));
    EXPECT_FALSE(base64Decode("Zg==Zg==", out));  // padding in the middle
    EXPECT_FALSE(base64Decode("Z=g=", out));
    EXPECT_FALSE(base64Decode("Zm9v YmFy", out)); // whitespace
    EXPECT_FALSE(base64Decode("Zm9v\nYmFy", out));
    EXPECT_FALSE(base64Decode("Zm9-", out));      // URL-safe alphabet is not ours
    EXPECT_FALSE(base64Decode("Zm9_", out));
    EXPECT_FALSE(base64Decode(std::string_view("Zm9\0", 4), out));
    EXPECT_FALSE(base64Decode("Zh==", out));      // non-zero bits under the padding
    EXPECT_FALSE(base64Decode("Zm9=", out));      // "fo" is Zm8=; lax decoders accept this
    EXPECT_FALSE(base64Decode("Zm+=", out));
}

TEST(AuthCrypto, ConstantTimeEquals) {
    EXPECT_TRUE(constantTimeEquals("", ""));
    EXPECT_TRUE(constantTimeEquals("abc", "abc"));
    EXPECT_FALSE(constantTimeEquals("abc", "abd"));
    EXPECT_FALSE(constantTimeEquals("abc", "xbc"));
    EXPECT_FALSE(constantTimeEquals("abc", "abcd"));
    EXPECT_FALSE(constantTimeEquals("", "a"));
    EXPECT_TRUE(constantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
    EXPECT_FALSE(constantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST(AuthCrypto, RandomBytesDiffer) {
    std::set<std::string> seen;
    for (int i = 0; i < 20; ++i) seen.insert(randomBytes(16));
    EXPECT_EQ(seen.size(), 20u);
    EXPECT_EQ(randomBytes(0), "");
    uint8_t buffer[64] = {};
    randomBytes(buffer, sizeof buffer);
    int zeros = 0;
    for (uint8_t b : buffer) zeros += b == 0;
    EXPECT_LT(zeros, 16);  // 64 random bytes with 16+ zeros: probability ~1e-20
}

TEST(AuthCrypto, Sha256AndHmacKnownValues) {
    EXPECT_EQ(base64Encode(asStringView(sha256("abc"))), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    // RFC 4231 test case 2.
    const Sha256Digest mac = hmacSha256("Jefe", "what do ya want for nothing?");
    EXPECT_EQ(base64Encode(asStringView(mac)), "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
}

TEST(AuthCrypto, Pbkdf2MatchesRfc7914Vector) {
    // RFC 7914 §11: PBKDF2-HMAC-SHA256("passwd", "salt", 1), first 32 bytes.
    const Sha256Digest derived = pbkdf2Sha256("passwd", "salt", 1);
    EXPECT_EQ(base64Encode(asStringView(derived)), "VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw=");
}

}  // namespace
}  // namespace sluice::auth
