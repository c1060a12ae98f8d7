#include "auth/crypto_util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

namespace sluice::auth {

namespace {

constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// -1 for bytes outside the alphabet (including '=' which the decoder handles itself).
int base64Value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

[[noreturn]] void cryptoFailure(const char* what) {
    // No recovery is safe here, and the logger may itself need memory or randomness.
    std::fprintf(stderr, "sluice: fatal: OpenSSL %s failed\n", what);
    std::abort();
}

}  // namespace

bool constantTimeEquals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void randomBytes(uint8_t* out, size_t n) {
    while (n > 0) {
        // RAND_bytes takes an int; chunk so huge requests cannot overflow it.
        const int chunk = n > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
        if (RAND_bytes(out, chunk) != 1) cryptoFailure("RAND_bytes");
        out += chunk;
        n -= static_cast<size_t>(chunk);
    }
}

std::string randomBytes(size_t n) {
    std::string bytes(n, '\0');
    randomBytes(reinterpret_cast<uint8_t*>(bytes.data()), n);
    return bytes;
}

std::string base64Encode(std::string_view data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        const uint32_t group = (static_cast<uint8_t>(data[i]) << 16) |
                               (static_cast<uint8_t>(data[i + 1]) << 8) | static_cast<uint8_t>(data[i + 2]);
        out += kBase64Alphabet[(group >> 18) & 63];
        out += kBase64Alphabet[(group >> 12) & 63];
        out += kBase64Alphabet[(group >> 6) & 63];
        out += kBase64Alphabet[group & 63];
    }
    const size_t rest = data.size() - i;
    if (rest == 1) {
        const uint32_t group = static_cast<uint8_t>(data[i]) << 16;
        out += kBase64Alphabet[(group >> 18) & 63];
        out += kBase64Alphabet[(group >> 12) & 63];
        out += "==";
    } else if (rest == 2) {
        const uint32_t group = (static_cast<uint8_t>(data[i]) << 16) | (static_cast<uint8_t>(data[i + 1]) << 8);
        out += kBase64Alphabet[(group >> 18) & 63];
        out += kBase64Alphabet[(group >> 12) & 63];
        out += kBase64Alphabet[(group >> 6) & 63];
        out += '=';
    }
    return out;
}

bool base64Decode(std::string_view text, std::string& out) {
    out.clear();
    if (text.size() % 4 != 0) return false;
    out.reserve(text.size() / 4 * 3);
    for (size_t i = 0; i < text.size(); i += 4) {
        const bool lastGroup = i + 4 == text.size();
        int padding = 0;
        if (lastGroup) {
            if (text[i + 3] == '=') padding = text[i + 2] == '=' ? 2 : 1;
        }
        uint32_t group = 0;
        for (size_t j = 0; j < 4; ++j) {
            int value = 0;
            if (j >= 4 - static_cast<size_t>(padding)) {
                value = 0;  // a padding position, already checked to hold '='
            } else {
                value = base64Value(static_cast<unsigned char>(text[i + j]));
                if (value < 0) return false;  // also catches '=' before the end
            }
            group = (group << 6) | static_cast<uint32_t>(value);
        }
        out += static_cast<char>((group >> 16) & 0xff);
        if (padding < 2) out += static_cast<char>((group >> 8) & 0xff);
        if (padding < 1) out += static_cast<char>(group & 0xff);
        // Canonical encodings leave the bits under the padding zero; anything else means the
        // text was not produced by an encoder of the bytes we would return.
        if (padding == 1 && (group & 0xff) != 0) return false;
        if (padding == 2 && (group & 0xffff) != 0) return false;
    }
    return true;
}

Sha256Digest sha256(std::string_view data) {
    Sha256Digest digest{};
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
        length != digest.size())
        cryptoFailure("SHA-256");
    return digest;
}

Sha256Digest hmacSha256(std::string_view key, std::string_view data) {
    Sha256Digest digest{};
    unsigned int length = 0;
    if (key.size() > static_cast<size_t>(INT_MAX)) cryptoFailure("HMAC key length");
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data(), &length) == nullptr ||
        length != digest.size())
        cryptoFailure("HMAC-SHA-256");
    return digest;
}

Sha256Digest pbkdf2Sha256(std::string_view password, std::string_view salt, int iterations) {
    Sha256Digest digest{};
    if (iterations < 1 || password.size() > static_cast<size_t>(INT_MAX) || salt.size() > static_cast<size_t>(INT_MAX))
        cryptoFailure("PBKDF2 arguments");  // callers validate; reaching here is a programming error
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                          reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                          iterations, EVP_sha256(), static_cast<int>(digest.size()), digest.data()) != 1)
        cryptoFailure("PBKDF2");
    return digest;
}

}  // namespace sluice::auth
