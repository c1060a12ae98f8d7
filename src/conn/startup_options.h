// The `options` startup parameter ("-c name=value --name=value ..."), split the way PostgreSQL
// splits it: on unescaped whitespace, with backslash escaping the next character.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.h"

namespace sluice::conn {

using OptionSettings = std::vector<std::pair<std::string, std::string>>;

// Only settings are understood (-c name=value, -cname=value, --name=value); anything else
// (-d 5, -c name without a value) is PgBouncer's "unsupported options startup parameter".
Result<OptionSettings> parseStartupOptions(std::string_view options);

}  // namespace sluice::conn
