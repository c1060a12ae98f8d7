// Splits the value of a [databases] / [users] / [peers] line into key=value pairs, the way
// PgBouncer reads them: pairs separated by blanks; a value is either a run of non-blank
// characters or single-quoted. Inside quotes '' stands for one quote (PgBouncer); a backslash
// before a quote or a backslash escapes it too (libpq). Empty values are an error, as in PgBouncer.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.h"

namespace sluice::config {

using KeyValuePairs = std::vector<std::pair<std::string, std::string>>;

// Keys are returned lowercased; values exactly as unquoted.
Result<KeyValuePairs> splitConnString(std::string_view text);

}  // namespace sluice::config
