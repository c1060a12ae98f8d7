#include <gtest/gtest.h>

#include "auth/md5_password.h"

namespace sluice::auth {
namespace {

TEST(AuthMd5, Md5HexOfKnownInputs) {
    EXPECT_EQ(md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");  // RFC 1321 test suite
    EXPECT_EQ(md5Hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(md5Hex(std::string_view("\0x", 2)).size(), 32u);  // binary-safe, not NUL-terminated
}

TEST(AuthMd5, PasswordHashAsPostgresStoresIt) {
    // The example from PgBouncer's config.md ("Authentication file format").
    EXPECT_EQ(md5PasswordHash("1234", "admin"), "md545f2603610af569b6155c45067268c6b");
    // python3: "md5" + hashlib.md5(b"secretalice").hexdigest()
    EXPECT_EQ(md5PasswordHash("secret", "alice"), "md54a0a68b43b6cd5cf266fa02f196e2371");
    // Password first, then user: swapping them must give something else.
    EXPECT_NE(md5PasswordHash("alice", "secret"), md5PasswordHash("secret", "alice"));
}

TEST(AuthMd5, SaltedResponseMatchesWhatLibpqSends) {
    const uint8_t salt1[4] = {0x01, 0x02, 0x03, 0x04};
    EXPECT_EQ(md5SaltedResponse("md545f2603610af569b6155c45067268c6b", salt1), "md53db460fcab3fd3a6df7db145a8d8253b");
    const uint8_t salt2[4] = {0xde, 0xad, 0xbe, 0xef};  // high bytes are raw, not sign-extended text
    EXPECT_EQ(md5SaltedResponse(md5PasswordHash("secret", "alice"), salt2), "md53e1d73ba00a55e8805aa0277d29996c5");
    EXPECT_NE(md5SaltedResponse(md5PasswordHash("secret", "alice"), salt1),
              md5SaltedResponse(md5PasswordHash("secret", "alice"), salt2));
}

TEST(AuthMd5, SaltedResponseOnShortInputDoesNotCrash) {
    const uint8_t salt[4] = {0, 0, 0, 0};
    EXPECT_EQ(md5SaltedResponse("", salt).size(), 35u);
    EXPECT_EQ(md5SaltedResponse("md", salt).size(), 35u);
}

TEST(AuthMd5, IsMd5HashFollowsPostgresRule) {
    EXPECT_TRUE(isMd5Hash("md545f2603610af569b6155c45067268c6b"));
    EXPECT_FALSE(isMd5Hash("md545F2603610AF569B6155C45067268C6B"));  // PostgreSQL only accepts lower case
    EXPECT_FALSE(isMd5Hash("MD545f2603610af569b6155c45067268c6b"));
    EXPECT_FALSE(isMd5Hash("md545f2603610af569b6155c45067268c6"));    // 34 characters
    EXPECT_FALSE(isMd5Hash("md545f2603610af569b6155c45067268c6bb"));  // 36 characters
    EXPECT_FALSE(isMd5Hash("md545f2603610af569b6155c45067268c6g"));
    EXPECT_FALSE(isMd5Hash("xyz45f2603610af569b6155c45067268c6b"));
    EXPECT_FALSE(isMd5Hash(""));
    EXPECT_FALSE(isMd5Hash("md5"));
}

}  // namespace
}  // namespace sluice::auth
