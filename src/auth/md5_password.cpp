#include "auth/md5_password.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace sluice::auth {

std::string md5Hex(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_md5(), nullptr) != 1 || length != 16) {
        // Only possible when MD5 is unavailable (e.g. a FIPS-only provider): nothing md5-based can work.
        std::fprintf(stderr, "sluice: fatal: OpenSSL MD5 digest failed\n");
        std::abort();
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex(32, '0');
    for (unsigned int i = 0; i < length; ++i) {
        hex[2 * i] = kHex[digest[i] >> 4];
        hex[2 * i + 1] = kHex[digest[i] & 0x0f];
    }
    return hex;
}

std::string md5PasswordHash(std::string_view password, std::string_view user) {
    std::string input;
    input.reserve(password.size() + user.size());
    input.append(password).append(user);
    return "md5" + md5Hex(input);
}

std::string md5SaltedResponse(std::string_view storedMd5Hash, const uint8_t salt[4]) {
    std::string input(storedMd5Hash.size() >= 3 ? storedMd5Hash.substr(3) : std::string_view{});
    input.append(reinterpret_cast<const char*>(salt), 4);
    return "md5" + md5Hex(input);
}

bool isMd5Hash(std::string_view secret) {
    if (secret.size() != kMd5HashLength || secret.substr(0, 3) != "md5") return false;
    for (char c : secret.substr(3)) {
        const bool hexDigit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        if (!hexDigit) return false;
    }
    return true;
}

}  // namespace sluice::auth
