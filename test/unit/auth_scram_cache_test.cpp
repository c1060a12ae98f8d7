// The per-worker SCRAM secret cache: derived once per stored secret, anew when it changes,
// and a mock secret for unknown users that is stable per name and verifies no password.
#include <gtest/gtest.h>

#include "auth/md5_password.h"
#include "auth/scram.h"
#include "auth/scram_secret_cache.h"
#include "auth/secret.h"

namespace sluice::auth {
namespace {

bool logsIn(const ScramSecret& secret, const std::string& password) {
    ScramClient client(password);
    ScramServer server(secret);
    std::string serverFirst, clientFinal, serverFinal, error;
    return server.handleClientFirst(client.clientFirstMessage(), serverFirst, error) &&
           client.handleServerFirst(serverFirst, clientFinal, error) &&
           server.handleClientFinal(clientFinal, serverFinal, error) && client.verifyServerFinal(serverFinal, error);
}

TEST(AuthScramCache, PlainPasswordIsDerivedOnceAndChecksLogins) {
    ScramSecretCache cache;
    const ScramSecret* first = cache.secretFor("alice", "s3cret");
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(first->iterations, kScramDefaultIterations);
    EXPECT_EQ(first->salt.size(), kScramDefaultSaltLength);
    const ScramSecret copy = *first;
    const ScramSecret* again = cache.secretFor("alice", "s3cret");
    ASSERT_EQ(again, first) << "the same stored secret was derived twice";
    EXPECT_EQ(again->salt, copy.salt);
    EXPECT_TRUE(logsIn(*again, "s3cret"));
    EXPECT_FALSE(logsIn(*again, "s3cret "));
    EXPECT_EQ(cache.size(), 1u);
}

TEST(AuthScramCache, AChangedEntryIsDerivedAnew) {
    ScramSecretCache cache;
    const std::string oldSalt = cache.secretFor("alice", "old")->salt;
    const ScramSecret* changed = cache.secretFor("alice", "new");
    ASSERT_NE(changed, nullptr);
    EXPECT_NE(changed->salt, oldSalt);
    EXPECT_TRUE(logsIn(*changed, "new"));
    EXPECT_FALSE(logsIn(*changed, "old"));
    EXPECT_EQ(cache.size(), 1u);
}

TEST(AuthScramCache, UsersAreKeptApart) {
    ScramSecretCache cache;
    cache.secretFor("alice", "same");
    const ScramSecret* bob = cache.secretFor("bob", "same");
    ASSERT_NE(bob, nullptr);
    EXPECT_NE(bob->salt, cache.secretFor("alice", "same")->salt);
    EXPECT_EQ(cache.size(), 2u);
    cache.clear();
    EXPECT_EQ(cache.size(), 0u);
}

TEST(AuthScramCache, StoredScramSecretIsParsedAsIs) {
    ScramSecretCache cache;
    const ScramSecret made = makeScramSecret("pw", "0123456789abcdef", 4096);
    const ScramSecret* parsed = cache.secretFor("carol", formatScramSecret(made));
    ASSERT_NE(parsed, nullptr);
    EXPECT_EQ(parsed->salt, made.salt);
    EXPECT_EQ(parsed->storedKey, made.storedKey);
    EXPECT_EQ(parsed->serverKey, made.serverKey);
    EXPECT_TRUE(logsIn(*parsed, "pw"));
}

TEST(AuthScramCache, Md5HashCannotCheckAScramProof) {
    ScramSecretCache cache;
    EXPECT_EQ(cache.secretFor("dave", md5PasswordHash("pw", "dave")), nullptr);
}

TEST(AuthScramCache, TellsWhatTheStoredEntryIsOnEveryLookup) {
    ScramSecretCache cache;
    const std::string scram = formatScramSecret(makeScramSecret("pw", "0123456789abcdef", 4096));
    // A SCRAM-looking entry that does not parse is taken as a plain password (classifySecret).
    const std::string broken = "SCRAM-SHA-256$4096:c2FsdA==$not-base64";
    for (int lookup = 0; lookup < 2; ++lookup) {  // derived, then from the cache
        SecretKind kind = SecretKind::Md5;
        ASSERT_NE(cache.secretFor("erin", scram, &kind), nullptr);
        EXPECT_EQ(kind, SecretKind::Scram) << "lookup " << lookup;
        ASSERT_NE(cache.secretFor("frank", broken, &kind), nullptr);
        EXPECT_EQ(kind, SecretKind::Plain) << "lookup " << lookup;
        ASSERT_NE(cache.secretFor("gina", "plain", &kind), nullptr);
        EXPECT_EQ(kind, SecretKind::Plain) << "lookup " << lookup;
        EXPECT_EQ(cache.secretFor("hank", md5PasswordHash("pw", "hank"), &kind), nullptr);
        EXPECT_EQ(kind, SecretKind::Md5) << "lookup " << lookup;
    }
}

TEST(AuthScramCache, MockSecretIsStablePerUserAndAcceptsNoPassword) {
    ScramSecretCache cache;
    const ScramSecret mock = cache.mockSecret("nobody");
    const ScramSecret again = cache.mockSecret("nobody");
    EXPECT_EQ(mock.salt, again.salt) << "a changing salt would tell an unknown user apart";
    EXPECT_EQ(mock.storedKey, again.storedKey);
    EXPECT_EQ(mock.salt.size(), kScramDefaultSaltLength);
    EXPECT_EQ(mock.iterations, kScramDefaultIterations);
    EXPECT_NE(cache.mockSecret("somebody").salt, mock.salt);
    EXPECT_NE(ScramSecretCache().mockSecret("nobody").salt, mock.salt) << "the mock salt must not be predictable";
    EXPECT_FALSE(logsIn(mock, ""));
    EXPECT_FALSE(logsIn(mock, "nobody"));
}

}  // namespace
}  // namespace sluice::auth
