#include "auth/scram_secret_cache.h"

#include <algorithm>

#include "auth/crypto_util.h"

namespace sluice::auth {

ScramSecretCache::ScramSecretCache() : mockNonce_(randomBytes(32)) {}

const ScramSecret* ScramSecretCache::secretFor(const std::string& user, std::string_view stored, SecretKind* kind) {
    auto it = entries_.find(user);
    if (it != entries_.end() && it->second.stored == stored) {
        if (kind) *kind = it->second.kind;
        return &it->second.secret;
    }
    const SecretKind storedKind = classifySecret(stored);
    if (kind) *kind = storedKind;
    ScramSecret secret;
    switch (storedKind) {
        case SecretKind::Md5: return nullptr;
        case SecretKind::Scram:
            if (!parseScramSecret(stored, secret)) return nullptr;
            break;
        case SecretKind::Plain: secret = makeScramSecret(stored); break;
    }
    Entry& entry = entries_[user];
    entry.stored.assign(stored);
    entry.kind = storedKind;
    entry.secret = std::move(secret);
    return &entry.secret;
}

ScramSecret ScramSecretCache::mockSecret(std::string_view user) const {
    auto derive = [&](std::string_view label) {
        std::string data(label);
        data.append(user);
        return hmacSha256(mockNonce_, data);
    };
    ScramSecret secret;
    secret.iterations = kScramDefaultIterations;
    const Sha256Digest salt = derive("salt:");
    secret.salt.assign(reinterpret_cast<const char*>(salt.data()), kScramDefaultSaltLength);
    const Sha256Digest stored = derive("stored:"), server = derive("server:");
    std::copy(stored.begin(), stored.end(), secret.storedKey.begin());
    std::copy(server.begin(), server.end(), secret.serverKey.begin());
    return secret;
}

}  // namespace sluice::auth
