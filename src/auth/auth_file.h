// PgBouncer's auth_file (userlist.txt): one user per line,
//     "username" "password-or-secret" anything else is ignored
// Both fields are double-quoted; "" inside a field stands for one double quote. Blank lines
// and lines whose first non-blank character is ';' are skipped, as in PgBouncer. We also skip
// '#' lines: PgBouncer stops reading the file at such a line (it logs "broken auth file" and
// keeps the users read so far), which is never what the author of the comment meant.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include "util/result.h"

namespace sluice::auth {

// user -> secret: a plain password, an md5 hash ("md5...") or a SCRAM secret
// ("SCRAM-SHA-256$..."); classifySecret() tells which.
using AuthFile = std::unordered_map<std::string, std::string>;

// PgBouncer's MAX_USERNAME and MAX_PASSWORD buffers, so a file PgBouncer accepts loads here.
inline constexpr size_t kMaxAuthFileUserLength = 127;
inline constexpr size_t kMaxAuthFileSecretLength = 2047;

// Unlike PgBouncer, which stops at the first broken line and keeps what it read, a broken
// line fails the whole file ("<fileName>:<line>: <what is wrong>"), so the caller can keep its
// previous user list on reload instead of silently losing users. A user listed twice keeps
// the last entry, as in PgBouncer.
Result<AuthFile> parseAuthFile(std::string_view content, std::string_view fileName);

// Reads `path` and parses it; an unreadable file is an error naming the path and the reason.
Result<AuthFile> loadAuthFile(const std::string& path);

}  // namespace sluice::auth
