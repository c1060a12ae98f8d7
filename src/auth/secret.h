// What a password entry holds (auth_file, auth_query, [users]) and PostgreSQL's textual SCRAM
// secret format ("SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>", RFC 5803).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::auth {

enum class SecretKind { Plain, Md5, Scram };

// PostgreSQL's rule (get_password_type): a valid md5 hash, else a parseable SCRAM secret,
// else plain text. A damaged "SCRAM-SHA-256$..." string therefore counts as a plain password,
// as it does in PostgreSQL and PgBouncer; looksLikeScramSecret() lets callers warn about it.
SecretKind classifySecret(std::string_view secret);
bool looksLikeScramSecret(std::string_view secret);

inline constexpr int kScramDefaultIterations = 4096;  // PostgreSQL's scram_iterations default
inline constexpr size_t kScramDefaultSaltLength = 16;  // PostgreSQL's SCRAM_DEFAULT_SALT_LEN

struct ScramSecret {
    int iterations = 0;
    std::string salt;  // raw bytes
    std::array<uint8_t, 32> storedKey{};
    std::array<uint8_t, 32> serverKey{};
};

// Strict: the exact scheme name, a decimal iteration count in [1, INT_MAX], a non-empty
// base64 salt and two base64 keys of exactly 32 bytes. `out` is only written on success.
bool parseScramSecret(std::string_view text, ScramSecret& out);

// Runs PBKDF2: `iterations` must be >= 1. The password gets scramPreparePassword() first.
ScramSecret makeScramSecret(std::string_view password, std::string_view salt, int iterations);
// Random 16-byte salt and PostgreSQL's default iteration count, as CREATE ROLE ... PASSWORD would.
ScramSecret makeScramSecret(std::string_view password);

std::string formatScramSecret(const ScramSecret& secret);

}  // namespace sluice::auth
