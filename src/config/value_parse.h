// Strict text-to-value conversions shared by the settings table and the [databases]/[users]
// entries. They reject anything a reader could misread (trailing junk, units, hex, inf/nan)
// rather than guessing, so a typo is reported instead of silently meaning something else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::config {

std::string toLower(std::string_view text);
std::string_view trim(std::string_view text);

// Decimal integer with an optional sign.
std::optional<int64_t> parseInteger(std::string_view text);
// 0/1, yes/no, on/off, true/false (case-insensitive).
std::optional<bool> parseBoolean(std::string_view text);
// A decimal number of seconds, fractions allowed, no unit; finite.
std::optional<double> parseSeconds(std::string_view text);
// Octal digits, e.g. "0777" or "777".
std::optional<int64_t> parseOctal(std::string_view text);

// A non-negative count that fits an int (pool sizes, connection limits).
std::optional<int> parseCount(std::string_view text);
// session, transaction or statement (case-insensitive), returned lowercase.
std::optional<std::string> parsePoolModeName(std::string_view text);

// Seconds the way PgBouncer prints them (C's %g): 3600 -> "3600", 0.5 -> "0.5".
std::string formatSeconds(double seconds);
// A file mode with a leading zero: 511 -> "0777".
std::string formatOctal(int64_t mode);

}  // namespace sluice::config
