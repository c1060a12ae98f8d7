// The admin console's command parser (admin/command.*): what anyone who can log in to the
// `pgbouncer` database types. Invariants: a parsed verb is lower case (the
// console dispatches on them; a quoted SET key keeps its case), an error tells the user something, and a parsed command
// written back (words double-quoted, the SET value single-quoted) parses to the same command.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>

#include "admin/command.h"
#include "fuzz_util.h"

using namespace sluice;

namespace {

bool lowerCase(const std::string& text) {
    for (unsigned char c : text)
        if (std::isupper(c)) return false;
    return true;
}

std::string quoted(const std::string& text, char quote) {
    std::string out(1, quote);
    for (char c : text) {
        if (c == quote) out += quote;
        out += c;
    }
    return out + quote;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto command = admin::parseCommand(fuzz::asText(data, size));
    if (!command) {
        FUZZ_CHECK(!command.error().message.empty());
        return 0;
    }
    FUZZ_CHECK(lowerCase(command->verb));
    std::string written;
    switch (command->kind) {
        case admin::Command::Kind::Empty: return 0;
        case admin::Command::Kind::Verb:
            written = command->verb;
            if (!command->argument.empty()) {
                written += ' ';
                written += quoted(command->argument, '"');
            }
            break;
        case admin::Command::Kind::Set:
            // Appended piece by piece: "literal" + std::string&& trips a false -Wrestrict in GCC 12.
            written = "SET ";
            written += quoted(command->setKey, '"');
            written += " = ";
            written += quoted(command->setValue, '\'');
            written += ";";
            break;
    }
    auto again = admin::parseCommand(written);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->kind == command->kind && again->verb == command->verb && again->argument == command->argument &&
               again->setKey == command->setKey && again->setValue == command->setValue);
    return 0;
}
