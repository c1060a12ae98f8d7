#include "config/value_parse.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace sluice::config {

std::string toLower(std::string_view text) {
    std::string lower(text);
    for (char& c : lower)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return lower;
}

std::string_view trim(std::string_view text) {
    constexpr std::string_view kSpace = " \t\r\n\f\v";
    const auto first = text.find_first_not_of(kSpace);
    if (first == std::string_view::npos) return {};
    const auto last = text.find_last_not_of(kSpace);
    return text.substr(first, last - first + 1);
}

std::optional<int64_t> parseInteger(std::string_view text) {
    // from_chars refuses a leading '+', which people do write.
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    if (text.empty()) return std::nullopt;
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

std::optional<bool> parseBoolean(std::string_view text) {
    const std::string word = toLower(text);
    if (word == "1" || word == "yes" || word == "on" || word == "true") return true;
    if (word == "0" || word == "no" || word == "off" || word == "false") return false;
    return std::nullopt;
}

std::optional<double> parseSeconds(std::string_view text) {
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    if (text.empty()) return std::nullopt;
    // Only digits, one dot and an exponent: from_chars alone would also take "inf" and "nan".
    for (char c : text)
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+'))
            return std::nullopt;
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::general);
    if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
    return value;
}

std::optional<int64_t> parseOctal(std::string_view text) {
    if (text.empty() || text.size() > 12) return std::nullopt;
    int64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '7') return std::nullopt;
        value = value * 8 + (c - '0');
    }
    return value;
}

std::optional<int> parseCount(std::string_view text) {
    const auto number = parseInteger(text);
    if (!number || *number < 0 || *number > std::numeric_limits<int>::max()) return std::nullopt;
    return static_cast<int>(*number);
}

std::optional<std::string> parsePoolModeName(std::string_view text) {
    std::string mode = toLower(text);
    if (mode == "session" || mode == "transaction" || mode == "statement") return mode;
    return std::nullopt;
}

std::string formatSeconds(double seconds) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%g", seconds);
    return buffer;
}

std::string formatOctal(int64_t mode) {
    if (mode == 0) return "0";
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "0%llo", static_cast<unsigned long long>(mode));
    return buffer;
}

}  // namespace sluice::config
