#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

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

TEST(AuthCrypto, RandomBytesAreNeverHandedOutTwiceAcrossRefillsAndForks) {
    // Small draws come from a per-thread pool: thousands of them cross many refills.
    std::set<std::string> seen;
    for (int i = 0; i < 5000; ++i) seen.insert(randomBytes(18));
    EXPECT_EQ(seen.size(), 5000u);

    // A forked child must not hand out the bytes its parent's pool still holds.
    randomBytes(18);  // the pool is full now
    int pipeFds[2];
    ASSERT_EQ(pipe(pipeFds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        const std::string drawn = randomBytes(32);
        _exit(write(pipeFds[1], drawn.data(), drawn.size()) == 32 ? 0 : 1);
    }
    const std::string parentDraw = randomBytes(32);
    std::string childDraw(32, '\0');
    EXPECT_EQ(read(pipeFds[0], childDraw.data(), childDraw.size()), 32);
    int status = 0;
    waitpid(child, &status, 0);
    close(pipeFds[0]);
    close(pipeFds[1]);
    EXPECT_NE(parentDraw, childDraw);
}

TEST(AuthCrypto, Sha256AndHmacKnownValues) {
    EXPECT_EQ(base64Encode(asStringView(sha256("abc"))), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    EXPECT_EQ(base64Encode(asStringView(sha256(""))), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    // RFC 4231 test cases 2 and 6 (a key longer than the block), then again: the objects are
    // reused between calls, and nothing of one call may leak into the next.
    for (int round = 0; round < 2; ++round) {
        const Sha256Digest mac = hmacSha256("Jefe", "what do ya want for nothing?");
        EXPECT_EQ(base64Encode(asStringView(mac)), "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
        const Sha256Digest longKey =
            hmacSha256(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First");
        EXPECT_EQ(base64Encode(asStringView(longKey)), "YOQxWR7gtn8Niiaqy/W3f44LxiE3KMUUBUYEDw7jf1Q=");
        // An empty key is a valid HMAC key (not "keep the previous one").
        EXPECT_EQ(base64Encode(asStringView(hmacSha256("", ""))), "thNnmggU2ex3L5XXeMNfxf8Wl8STcVZTxscSFEKSxa0=");
    }
}

TEST(AuthCrypto, Pbkdf2MatchesRfc7914Vector) {
    // RFC 7914 §11: PBKDF2-HMAC-SHA256("passwd", "salt", 1), first 32 bytes.
    const Sha256Digest derived = pbkdf2Sha256("passwd", "salt", 1);
    EXPECT_EQ(base64Encode(asStringView(derived)), "VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw=");
}

}  // namespace
}  // namespace sluice::auth
