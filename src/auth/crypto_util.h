// Small cryptographic helpers shared by md5, SCRAM and secret handling. They wrap OpenSSL
// so the rest of auth/ deals in std::string and fixed-size arrays, never in EVP contexts.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::auth {

inline constexpr size_t kSha256Length = 32;
using Sha256Digest = std::array<uint8_t, kSha256Length>;

// Compares contents without an early exit, so the time taken does not reveal how many leading
// bytes of a secret an attacker guessed. A length mismatch returns at once: lengths of the
// values compared here (hashes, proofs) are public.
bool constantTimeEquals(std::string_view a, std::string_view b);

// Cryptographically strong random bytes. Aborts the process when OpenSSL's generator fails:
// continuing with predictable nonces or salts would silently break authentication security.
void randomBytes(uint8_t* out, size_t n);
std::string randomBytes(size_t n);

// Standard alphabet (RFC 4648 §4) with '=' padding, no line breaks.
std::string base64Encode(std::string_view data);
// Strict: rejects characters outside the alphabet, whitespace, missing or misplaced padding
// and non-zero unused bits. On failure `out` is left unspecified.
bool base64Decode(std::string_view text, std::string& out);

Sha256Digest sha256(std::string_view data);
Sha256Digest hmacSha256(std::string_view key, std::string_view data);
// PBKDF2-HMAC-SHA-256 with a 32-byte output: RFC 5802's Hi() for SCRAM-SHA-256.
Sha256Digest pbkdf2Sha256(std::string_view password, std::string_view salt, int iterations);

inline std::string_view asStringView(const Sha256Digest& digest) {
    return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

}  // namespace sluice::auth
