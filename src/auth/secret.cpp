#include "auth/secret.h"

#include <climits>
#include <utility>

#include "auth/crypto_util.h"
#include "auth/md5_password.h"
#include "auth/scram_keys.h"

namespace sluice::auth {

namespace {

constexpr std::string_view kScramPrefix = "SCRAM-SHA-256$";

bool parseIterations(std::string_view text, int& out) {
    if (text.empty() || text.size() > 10) return false;
    long long value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + (c - '0');
    }
    if (value < 1 || value > INT_MAX) return false;
    out = static_cast<int>(value);
    return true;
}

bool decodeKey(std::string_view text, std::array<uint8_t, 32>& key) {
    std::string raw;
    if (!base64Decode(text, raw) || raw.size() != key.size()) return false;
    for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(raw[i]);
    return true;
}

// Splits `text` at the first `separator`; false when there is none.
bool splitAt(std::string_view text, char separator, std::string_view& before, std::string_view& after) {
    const size_t at = text.find(separator);
    if (at == std::string_view::npos) return false;
    before = text.substr(0, at);
    after = text.substr(at + 1);
    return true;
}

}  // namespace

bool looksLikeScramSecret(std::string_view secret) { return secret.substr(0, kScramPrefix.size()) == kScramPrefix; }

SecretKind classifySecret(std::string_view secret) {
    if (isMd5Hash(secret)) return SecretKind::Md5;
    ScramSecret ignored;
    if (parseScramSecret(secret, ignored)) return SecretKind::Scram;
    return SecretKind::Plain;
}

bool parseScramSecret(std::string_view text, ScramSecret& out) {
    if (!looksLikeScramSecret(text)) return false;
    std::string_view rest = text.substr(kScramPrefix.size());
    std::string_view iterationsText, saltText, storedText, serverText, keys;
    if (!splitAt(rest, ':', iterationsText, rest)) return false;
    if (!splitAt(rest, '$', saltText, keys)) return false;
    if (!splitAt(keys, ':', storedText, serverText)) return false;

    ScramSecret parsed;
    if (!parseIterations(iterationsText, parsed.iterations)) return false;
    if (!base64Decode(saltText, parsed.salt) || parsed.salt.empty()) return false;
    if (!decodeKey(storedText, parsed.storedKey)) return false;
    if (!decodeKey(serverText, parsed.serverKey)) return false;  // also rejects a third ':' or '$'
    out = std::move(parsed);
    return true;
}

ScramSecret makeScramSecret(std::string_view password, std::string_view salt, int iterations) {
    const ScramKeys keys = deriveScramKeys(password, salt, iterations);
    ScramSecret secret;
    secret.iterations = iterations;
    secret.salt = std::string(salt);
    secret.storedKey = keys.storedKey;
    secret.serverKey = keys.serverKey;
    return secret;
}

ScramSecret makeScramSecret(std::string_view password) {
    return makeScramSecret(password, randomBytes(kScramDefaultSaltLength), kScramDefaultIterations);
}

std::string formatScramSecret(const ScramSecret& secret) {
    std::string text(kScramPrefix);
    text += std::to_string(secret.iterations);
    text += ':';
    text += base64Encode(secret.salt);
    text += '$';
    text += base64Encode(asStringView(secret.storedKey));
    text += ':';
    text += base64Encode(asStringView(secret.serverKey));
    return text;
}

}  // namespace sluice::auth
