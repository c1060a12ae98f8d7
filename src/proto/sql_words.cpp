#include "proto/sql_words.h"

#include <array>
#include <cctype>
#include <vector>

namespace sluice::proto {

namespace {

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// Whitespace-separated words; false on anything but letters, blanks and one final ';'.
bool splitWords(std::string_view sql, std::vector<std::string_view>& words) {
    size_t i = 0;
    bool semicolon = false;
    while (i < sql.size()) {
        const unsigned char c = static_cast<unsigned char>(sql[i]);
        if (std::isspace(c)) {
            ++i;
        } else if (c == ';' && !semicolon) {
            semicolon = true;
            ++i;
        } else if (std::isalpha(c) && !semicolon) {
            size_t start = i;
            while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i]))) ++i;
            words.push_back(sql.substr(start, i - start));
        } else {
            return false;
        }
    }
    return true;
}

}  // namespace

bool endsTransactionBlock(std::string_view sql) {
    std::vector<std::string_view> words;
    if (!splitWords(sql, words) || words.empty() || words.size() > 2) return false;
    bool verb = false;
    for (std::string_view candidate : std::array<std::string_view, 4>{"commit", "end", "rollback", "abort"})
        verb |= equalsIgnoringCase(words[0], candidate);
    if (!verb) return false;
    return words.size() == 1 || equalsIgnoringCase(words[1], "work") || equalsIgnoringCase(words[1], "transaction");
}

}  // namespace sluice::proto
