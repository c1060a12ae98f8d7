#include "config/conn_string.h"

#include "config/value_parse.h"

namespace sluice::config {
namespace {

bool isBlank(char c) { return c == ' ' || c == '\t'; }

void skipBlanks(std::string_view text, size_t& pos) {
    while (pos < text.size() && isBlank(text[pos])) ++pos;
}

Error syntaxError(std::string_view what) {
    return Error{"syntax error in connection string: " + std::string(what), ""};
}

// Reads a quoted value starting just after the opening quote; leaves pos after the closing one.
Result<std::string> readQuoted(std::string_view text, size_t& pos) {
    std::string value;
    while (pos < text.size()) {
        const char c = text[pos];
        const char next = pos + 1 < text.size() ? text[pos + 1] : '\0';
        if (c == '\'' && next == '\'') {
            value += '\'';
            pos += 2;
        } else if (c == '\'') {
            ++pos;
            return value;
        } else if (c == '\\' && (next == '\'' || next == '\\')) {
            value += next;
            pos += 2;
        } else {
            value += c;
            ++pos;
        }
    }
    return syntaxError("unterminated quoted value");
}

}  // namespace

Result<KeyValuePairs> splitConnString(std::string_view text) {
    KeyValuePairs pairs;
    size_t pos = 0;
    while (true) {
        skipBlanks(text, pos);
        if (pos >= text.size()) break;

        const size_t keyStart = pos;
        while (pos < text.size() && text[pos] != '=' && !isBlank(text[pos])) ++pos;
        const std::string key = toLower(text.substr(keyStart, pos - keyStart));
        skipBlanks(text, pos);
        if (pos >= text.size() || text[pos] != '=')
            return syntaxError("expected '=' after '" + key + "'");
        if (key.empty()) return syntaxError("'=' without a key before it");
        ++pos;
        skipBlanks(text, pos);

        std::string value;
        if (pos < text.size() && text[pos] == '\'') {
            ++pos;
            auto quoted = readQuoted(text, pos);
            if (!quoted) return quoted.error();
            value = std::move(quoted.value());
            if (pos < text.size() && !isBlank(text[pos]))
                return syntaxError("unexpected text after the quoted value of '" + key + "'");
        } else {
            const size_t valueStart = pos;
            while (pos < text.size() && !isBlank(text[pos])) ++pos;
            value = std::string(text.substr(valueStart, pos - valueStart));
        }
        if (value.empty()) return syntaxError("empty value for '" + key + "'");
        pairs.emplace_back(key, std::move(value));
    }
    return pairs;
}

}  // namespace sluice::config
