// PostgreSQL's md5 password scheme: the stored hash and the salted response a client sends
// for AuthenticationMD5Password. MD5 is broken as a hash; it is here only because PostgreSQL
// and PgBouncer deployments still use it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::auth {

inline constexpr size_t kMd5HashLength = 35;  // "md5" + 32 hex digits

// Lower-case hex MD5 of `data` (32 characters).
std::string md5Hex(std::string_view data);

// "md5" + md5hex(password + user): what PostgreSQL stores in pg_authid.rolpassword.
std::string md5PasswordHash(std::string_view password, std::string_view user);

// "md5" + md5hex(storedHash[3:] + salt): the PasswordMessage answering
// AuthenticationMD5Password. `storedMd5Hash` must satisfy isMd5Hash(); otherwise the result is
// computed over whatever follows its first three bytes (callers check first).
std::string md5SaltedResponse(std::string_view storedMd5Hash, const uint8_t salt[4]);

// Exactly as PostgreSQL decides it: "md5" followed by 32 lower-case hex digits.
bool isMd5Hash(std::string_view secret);

}  // namespace sluice::auth
