#include <gtest/gtest.h>

#include "auth/crypto_util.h"
#include "auth/secret.h"

namespace sluice::auth {
namespace {

// What PostgreSQL 15 stored for CREATE ROLE a1 PASSWORD 'pencil' (salt chosen by the server).
constexpr std::string_view kPostgresPencilSecret =
    "SCRAM-SHA-256$4096:1Z2FXNOGMTz5wKHHw1qdcg==$DU3gjBMxt+JtpKNJeqho4bfWCasV8jgafFrb0XqvDXI=:"
    "eP1aFzn9VF7ocG96WYDXK0MEbRXps5MouzHc8HSIJQ4=";
// PostgreSQL 15, password 'pässwörd' (UTF-8, already NFKC-normalised).
constexpr std::string_view kPostgresUmlautSecret =
    "SCRAM-SHA-256$4096:pxna2pppRn1p+7/JsDC1Aw==$OBYk9YRijfdpDnP/VjzR5unSj099cHnSKfEjMumK+6o=:"
    "n7O+wxeQmD/+nCNqeEMS5okEYyKwHy/DsggatwEDXaQ=";
// PostgreSQL 15, password "a<U+00A0>b": SASLprep maps the no-break space to ' '.
constexpr std::string_view kPostgresNbspSecret =
    "SCRAM-SHA-256$4096:bznAFBCK+3OuiT+rPTQPYw==$bXx/8UvbJBdYINWqKvz1st/zTg9dd5q/6g7ZcFyqOq8=:"
    "Xp1DzTTmXX/vGA5Ev0hRPj7BMU15S225M+xKjIB8DIw=";

// RFC 7677's example: password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
// StoredKey and ServerKey computed independently with Python's hashlib/hmac.
constexpr std::string_view kRfc7677Secret =
    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";

std::string decoded(std::string_view base64) {
    std::string out;
    EXPECT_TRUE(base64Decode(base64, out)) << base64;
    return out;
}

TEST(AuthSecret, ParsesPostgresSecret) {
    ScramSecret secret;
    ASSERT_TRUE(parseScramSecret(kPostgresPencilSecret, secret));
    EXPECT_EQ(secret.iterations, 4096);
    EXPECT_EQ(secret.salt, decoded("1Z2FXNOGMTz5wKHHw1qdcg=="));
    EXPECT_EQ(secret.salt.size(), 16u);
    EXPECT_EQ(base64Encode(asStringView(secret.storedKey)), "DU3gjBMxt+JtpKNJeqho4bfWCasV8jgafFrb0XqvDXI=");
    EXPECT_EQ(base64Encode(asStringView(secret.serverKey)), "eP1aFzn9VF7ocG96WYDXK0MEbRXps5MouzHc8HSIJQ4=");
    EXPECT_EQ(formatScramSecret(secret), kPostgresPencilSecret);
}

TEST(AuthSecret, MakeScramSecretMatchesPostgres) {
    EXPECT_EQ(formatScramSecret(makeScramSecret("pencil", decoded("1Z2FXNOGMTz5wKHHw1qdcg=="), 4096)),
              kPostgresPencilSecret);
    EXPECT_EQ(formatScramSecret(makeScramSecret("p\xc3\xa4ssw\xc3\xb6rd", decoded("pxna2pppRn1p+7/JsDC1Aw=="), 4096)),
              kPostgresUmlautSecret);
    EXPECT_EQ(formatScramSecret(makeScramSecret("pencil", decoded("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096)),
              kRfc7677Secret);
}

// Known gap (see scramPreparePassword): full SASLprep is not implemented, so non-ASCII
// passwords that SASLprep rewrites derive different keys than PostgreSQL's. Enable when fixed.
TEST(AuthSecret, DISABLED_NonAsciiSpaceIsMappedLikeSaslPrep) {
    EXPECT_EQ(formatScramSecret(makeScramSecret("a\xc2\xa0"
                                                "b",
                                                decoded("bznAFBCK+3OuiT+rPTQPYw=="), 4096)),
              kPostgresNbspSecret);
}

TEST(AuthSecret, RandomSaltSecretsUseDefaultsAndDiffer) {
    const ScramSecret a = makeScramSecret("pw");
    const ScramSecret b = makeScramSecret("pw");
    EXPECT_EQ(a.iterations, kScramDefaultIterations);
    EXPECT_EQ(a.salt.size(), kScramDefaultSaltLength);
    EXPECT_NE(a.salt, b.salt);
    EXPECT_NE(a.storedKey, b.storedKey);
    ScramSecret reparsed;
    ASSERT_TRUE(parseScramSecret(formatScramSecret(a), reparsed));
    EXPECT_EQ(reparsed.salt, a.salt);
    EXPECT_EQ(reparsed.storedKey, a.storedKey);
    EXPECT_EQ(reparsed.serverKey, a.serverKey);
}

TEST(AuthSecret, RejectsMalformedSecrets) {
    const std::string salt = "W22ZaJ0SNY7soEsUEjb6gQ==";
    const std::string key = "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=";
    const std::string shortKey = base64Encode(std::string(31, 'k'));
    const std::vector<std::string> bad = {
        "",
        "SCRAM-SHA-256$",
        "SCRAM-SHA-1$4096:" + salt + "$" + key + ":" + key,
        "scram-sha-256$4096:" + salt + "$" + key + ":" + key,
        "SCRAM-SHA-256$0:" + salt + "$" + key + ":" + key,
        "SCRAM-SHA-256$-1:" + salt + "$" + key + ":" + key,
        "SCRAM-SHA-256$+4096:" + salt + "$" + key + ":" + key,
        "SCRAM-SHA-256$4096x:" + salt + "$" + key + ":" + key,
        "SCRAM-SHA-256$99999999999:" + salt + "$" + key + ":" + key,
        "SCRAM-SHA-256$:" + salt + "$" + key + ":" + key,
        "SCRAM-SHA-256$4096:$" + key + ":" + key,                    // empty salt
        "SCRAM-SHA-256$4096:W22Z*J0SNY7soEsUEjb6gQ==$" + key + ":" + key,
        "SCRAM-SHA-256$4096:" + salt + "$" + shortKey + ":" + key,
        "SCRAM-SHA-256$4096:" + salt + "$" + key + ":" + shortKey,
        "SCRAM-SHA-256$4096:" + salt + "$" + key,                    // no ServerKey
        "SCRAM-SHA-256$4096:" + salt + "$" + key + ":" + key + ":" + key,
        "SCRAM-SHA-256$4096:" + salt + "$" + key + ":" + key + "$",
        "SCRAM-SHA-256$4096:" + salt + "$" + key + ":" + key + " ",
        "SCRAM-SHA-256$4096$" + salt + "$" + key + ":" + key,
    };
    for (const std::string& text : bad) {
        ScramSecret secret;
        secret.iterations = 77;
        EXPECT_FALSE(parseScramSecret(text, secret)) << text;
        EXPECT_EQ(secret.iterations, 77) << "output written on failure: " << text;
    }
}

TEST(AuthSecret, ClassifiesLikePostgres) {
    EXPECT_EQ(classifySecret("md545f2603610af569b6155c45067268c6b"), SecretKind::Md5);
    EXPECT_EQ(classifySecret(kPostgresPencilSecret), SecretKind::Scram);
    EXPECT_EQ(classifySecret("hunter2"), SecretKind::Plain);
    EXPECT_EQ(classifySecret(""), SecretKind::Plain);
    EXPECT_EQ(classifySecret("md5notahash"), SecretKind::Plain);
    // A damaged SCRAM secret is a (strange) plain password to PostgreSQL, and to us.
    EXPECT_EQ(classifySecret("SCRAM-SHA-256$4096:broken"), SecretKind::Plain);
    EXPECT_TRUE(looksLikeScramSecret("SCRAM-SHA-256$4096:broken"));
    EXPECT_FALSE(looksLikeScramSecret("hunter2"));
}

}  // namespace
}  // namespace sluice::auth
