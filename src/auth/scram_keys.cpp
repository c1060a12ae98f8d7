#include "auth/scram_keys.h"

namespace sluice::auth {

std::string scramPreparePassword(std::string_view password) {
    // See the header: ASCII is exactly what SASLprep returns; other input stays raw.
    return std::string(password);
}

ScramKeys deriveScramKeys(std::string_view password, std::string_view salt, int iterations) {
    const Sha256Digest salted = pbkdf2Sha256(scramPreparePassword(password), salt, iterations);
    ScramKeys keys;
    keys.clientKey = hmacSha256(asStringView(salted), "Client Key");
    keys.storedKey = scramStoredKey(keys.clientKey);
    keys.serverKey = hmacSha256(asStringView(salted), "Server Key");
    return keys;
}

ScramKey scramStoredKey(const ScramKey& clientKey) { return sha256(asStringView(clientKey)); }

ScramKey scramSignature(const ScramKey& key, std::string_view authMessage) {
    return hmacSha256(asStringView(key), authMessage);
}

ScramKey xorKeys(const ScramKey& a, const ScramKey& b) {
    ScramKey out{};
    for (size_t i = 0; i < out.size(); ++i) out[i] = a[i] ^ b[i];
    return out;
}

}  // namespace sluice::auth
