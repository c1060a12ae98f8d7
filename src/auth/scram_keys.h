// SCRAM-SHA-256 key derivation (RFC 5802 §3) and the password preparation PostgreSQL applies
// first. Both roles and the secret builder use these, so they agree byte for byte.
#pragma once

#include <string>
#include <string_view>

#include "auth/crypto_util.h"

namespace sluice::auth {

using ScramKey = Sha256Digest;

// PostgreSQL runs SASLprep (RFC 4013) over the password and, when that fails (invalid UTF-8,
// prohibited characters), uses the raw bytes instead. Pure-ASCII passwords pass through
// SASLprep unchanged, which is what we implement. LIMITATION: non-ASCII passwords are used
// as raw bytes too, without NFKC normalisation or the mapping of non-ASCII spaces and
// "mapped to nothing" characters; a non-ASCII password that SASLprep would change therefore
// does not match the secret PostgreSQL derived from it. Already-normalised UTF-8 without such
// characters (the common case) derives the same keys.
std::string scramPreparePassword(std::string_view password);

struct ScramKeys {
    ScramKey clientKey{};
    ScramKey storedKey{};
    ScramKey serverKey{};
};

// SaltedPassword = Hi(prepared password, salt, iterations); the three keys follow from it.
// Expensive by design (PBKDF2): compute once per secret, not per login.
ScramKeys deriveScramKeys(std::string_view password, std::string_view salt, int iterations);

// StoredKey = H(ClientKey); ServerKey and ClientKey both HMAC the salted password.
ScramKey scramStoredKey(const ScramKey& clientKey);

// HMAC(key, AuthMessage): ClientSignature with StoredKey, ServerSignature with ServerKey.
ScramKey scramSignature(const ScramKey& key, std::string_view authMessage);

ScramKey xorKeys(const ScramKey& a, const ScramKey& b);

}  // namespace sluice::auth
