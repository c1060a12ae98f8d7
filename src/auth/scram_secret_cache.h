// The SCRAM secret each user's logins are checked against, made once per stored secret: a
// parsed "SCRAM-SHA-256$..." entry, or, for a plain-text password, the secret PBKDF2 derives
// from it with a salt of its own (as PostgreSQL stores one at CREATE ROLE). A SCRAM login then
// costs a few HMACs instead of 4096 PBKDF2 rounds (PgBouncer 1.21+ caches the same way).
// One per worker thread: no locks.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/secret.h"

namespace sluice::auth {

class ScramSecretCache {
public:
    ScramSecretCache();

    // The secret for `user` whose stored entry is `stored` (auth_file, auth_query, [users]);
    // null for an md5 hash, which cannot check a SCRAM proof. A changed entry is derived anew.
    // `kind`, if given, is told what the stored entry is (classifying it parses it again).
    const ScramSecret* secretFor(const std::string& user, std::string_view stored, SecretKind* kind = nullptr);

    // For a user without a usable secret: the exchange goes on against a secret nobody knows,
    // stable per user name like PostgreSQL's mock salt, so that neither the answer nor its
    // salt tells an unknown user from a wrong password. No PBKDF2 (no password exists).
    ScramSecret mockSecret(std::string_view user) const;

    // A reload may change every entry; memory stays bounded by the users that log in.
    void clear() { entries_.clear(); }
    size_t size() const { return entries_.size(); }

private:
    struct Entry {
        std::string stored;
        SecretKind kind = SecretKind::Plain;  // or Scram: an md5 hash is not kept
        ScramSecret secret;
    };
    std::unordered_map<std::string, Entry> entries_;
    std::string mockNonce_;  // random per process run
};

}  // namespace sluice::auth
