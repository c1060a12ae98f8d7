#include "auth/auth_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace sluice::auth {

namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr size_t kMaxAuthFileSize = 256u * 1024 * 1024;  // far beyond any real user list

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

size_t skipBlanks(std::string_view line, size_t pos) {
    while (pos < line.size() && isBlank(line[pos])) ++pos;
    return pos;
}

// Reads a double-quoted field starting at line[pos] == '"'. On success `pos` is just past the
// closing quote. Returns false when the closing quote is missing.
bool readQuoted(std::string_view line, size_t& pos, std::string& value) {
    value.clear();
    size_t i = pos + 1;
    while (i < line.size()) {
        if (line[i] == '"') {
            if (i + 1 < line.size() && line[i + 1] == '"') {
                value += '"';
                i += 2;
                continue;
            }
            pos = i + 1;
            return true;
        }
        value += line[i++];
    }
    return false;
}

Error lineError(std::string_view fileName, size_t lineNumber, std::string_view what) {
    std::string message(fileName);
    message += ':';
    message += std::to_string(lineNumber);
    message += ": ";
    message += what;
    return Error{std::move(message), ""};
}

}  // namespace

Result<AuthFile> parseAuthFile(std::string_view content, std::string_view fileName) {
    AuthFile users;
    if (content.substr(0, kUtf8Bom.size()) == kUtf8Bom) content.remove_prefix(kUtf8Bom.size());

    size_t lineNumber = 0;
    std::string user, secret;
    while (!content.empty()) {
        ++lineNumber;
        const size_t newline = content.find('\n');
        const std::string_view line = content.substr(0, newline);
        content = newline == std::string_view::npos ? std::string_view{} : content.substr(newline + 1);

        if (line.find('\0') != std::string_view::npos) return lineError(fileName, lineNumber, "NUL byte in line");
        size_t pos = skipBlanks(line, 0);
        if (pos == line.size() || line[pos] == ';' || line[pos] == '#') continue;

        if (line[pos] != '"')
            return lineError(fileName, lineNumber, "expected a double-quoted user name, as in \"user\" \"password\"");
        if (!readQuoted(line, pos, user))
            return lineError(fileName, lineNumber, "user name has no closing double quote");
        if (user.empty()) return lineError(fileName, lineNumber, "empty user name");
        if (user.size() > kMaxAuthFileUserLength)
            return lineError(fileName, lineNumber,
                             fmt::format("user name longer than {} bytes", kMaxAuthFileUserLength));

        const size_t afterUser = pos;
        pos = skipBlanks(line, pos);
        if (pos == line.size())
            return lineError(fileName, lineNumber, "missing double-quoted password after user \"" + user + "\"");
        if (line[pos] != '"' || pos == afterUser)
            return lineError(fileName, lineNumber,
                             "expected a blank and a double-quoted password after user \"" + user + "\"");
        if (!readQuoted(line, pos, secret))
            return lineError(fileName, lineNumber, "password of user \"" + user + "\" has no closing double quote");
        if (secret.size() > kMaxAuthFileSecretLength)
            return lineError(fileName, lineNumber,
                             "password of user \"" + user + "\" longer than " +
                                 std::to_string(kMaxAuthFileSecretLength) + " bytes");
        // The rest of the line is ignored: pg_shadow dumps carry extra columns there.
        users.insert_or_assign(user, secret);
    }
    return users;
}

Result<AuthFile> loadAuthFile(const std::string& path) {
    auto failure = [&path](int err) {
        return Error{"could not read auth_file " + path + ": " + std::strerror(err), ""};
    };
    struct FileDescriptor {
        int fd;
        ~FileDescriptor() {
            if (fd >= 0) ::close(fd);
        }
    } file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (file.fd < 0) return failure(errno);
    std::string content;
    char buffer[64 * 1024];
    int readError = 0;
    for (;;) {
        const ssize_t n = ::read(file.fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            readError = errno;
            break;
        }
        if (n == 0) break;
        if (content.size() + static_cast<size_t>(n) > kMaxAuthFileSize) {
            readError = EFBIG;
            break;
        }
        content.append(buffer, static_cast<size_t>(n));
    }
    if (readError != 0) return failure(readError);
    return parseAuthFile(content, path);
}

}  // namespace sluice::auth
