// The auth_file (userlist.txt) parser: `"user" "secret"` lines. Invariants: every user it
// returns fits PgBouncer's limits, and a user list written back in the file's own syntax
// (quotes doubled) parses to the same users and secrets.
#include <cstddef>
#include <cstdint>
#include <string>

#include "auth/auth_file.h"
#include "auth/secret.h"
#include "fuzz_util.h"

using namespace sluice;

namespace {

std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto users = auth::parseAuthFile(fuzz::asText(data, size), "userlist.txt");
    if (!users) {
        FUZZ_CHECK(users.error().message.rfind("userlist.txt:", 0) == 0);
        return 0;
    }
    std::string written;
    for (const auto& [user, secret] : *users) {
        FUZZ_CHECK(user.size() <= auth::kMaxAuthFileUserLength && secret.size() <= auth::kMaxAuthFileSecretLength);
        (void)auth::classifySecret(secret);
        auth::ScramSecret scram;
        if (auth::parseScramSecret(secret, scram))
            FUZZ_CHECK(auth::formatScramSecret(scram).size() > 0 && scram.iterations > 0);
        written += quoted(user) + " " + quoted(secret) + "\n";
    }
    auto again = auth::parseAuthFile(written, "rewritten.txt");
    if (!again) {
        std::fprintf(stderr, "rewritten file refused: %s\n", again.error().message.c_str());
        FUZZ_CHECK(again.ok());
    }
    FUZZ_CHECK(*again == *users);
    return 0;
}
