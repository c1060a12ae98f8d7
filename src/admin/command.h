// The admin console's query language, as PgBouncer parses it: `WORD [WORD];` and
// `SET key = value` (value a word or a 'quoted string'); words are case-insensitive and may be
// "double quoted" to keep case and odd characters. Pure code, unit-tested.
#pragma once

#include <string>
#include <string_view>

#include "util/result.h"

namespace sluice::admin {

struct Command {
    enum class Kind { Empty, Verb, Set };
    Kind kind = Kind::Empty;
    std::string verb;      // lower case: "show", "pause", "kill_client", …
    std::string argument;  // as written (unquoted); "" when none
    std::string setKey;    // SET: lower case
    std::string setValue;  // SET: unquoted
};

// An unparsable query is an error whose message tells the user to try SHOW HELP.
Result<Command> parseCommand(std::string_view query);

}  // namespace sluice::admin
