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

bool identStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool identPart(char c) { return identStart(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$'; }

// Reads the text with SQL's quoting (strings, quoted identifiers, dollar quotes, comments) and
// returns it without one final ';' and trailing blanks, or nullopt when a ';' ends a statement
// before the end (several statements) or a quote is left open.
std::optional<std::string_view> oneStatement(std::string_view sql) {
    size_t i = 0, end = sql.size();
    while (i < sql.size()) {
        const char c = sql[i];
        if (c == '\'' || c == '"') {
            const size_t close = sql.find(c, i + 1);
            if (close == std::string_view::npos) return std::nullopt;
            i = close + 1;  // a doubled quote is two quoted runs back to back: same result
        } else if (c == '$' && (i == 0 || !identPart(sql[i - 1]))) {
            size_t tagEnd = i + 1;
            while (tagEnd < sql.size() && identPart(sql[tagEnd]) && sql[tagEnd] != '$') ++tagEnd;
            if (tagEnd >= sql.size() || sql[tagEnd] != '$') {
                ++i;  // $1, a parameter
                continue;
            }
            const std::string_view tag = sql.substr(i, tagEnd - i + 1);
            const size_t close = sql.find(tag, tagEnd + 1);
            if (close == std::string_view::npos) return std::nullopt;
            i = close + tag.size();
        } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
            const size_t newline = sql.find('\n', i);
            i = newline == std::string_view::npos ? sql.size() : newline + 1;
        } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
            const size_t close = sql.find("*/", i + 2);
            if (close == std::string_view::npos) return std::nullopt;
            i = close + 2;
        } else if (c == ';') {
            for (size_t j = i + 1; j < sql.size(); ++j)
                if (!std::isspace(static_cast<unsigned char>(sql[j]))) return std::nullopt;
            end = i;
            break;
        } else {
            ++i;
        }
    }
    while (end > 0 && std::isspace(static_cast<unsigned char>(sql[end - 1]))) --end;
    return sql.substr(0, end);
}

std::string_view skipBlanks(std::string_view text) {
    size_t i = 0;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    return text.substr(i);
}

// A keyword at the start of `text`, followed by a blank or the end; consumes it.
bool takeKeyword(std::string_view& text, std::string_view keyword) {
    if (text.size() < keyword.size() || !equalsIgnoringCase(text.substr(0, keyword.size()), keyword)) return false;
    if (text.size() > keyword.size() && identPart(text[keyword.size()])) return false;
    text = skipBlanks(text.substr(keyword.size()));
    return true;
}

// An identifier at the start of `text`; consumes it.
std::optional<std::string> takeIdentifier(std::string_view& text) {
    std::string name;
    if (!text.empty() && text[0] == '"') {
        size_t i = 1;
        while (true) {
            const size_t close = text.find('"', i);
            if (close == std::string_view::npos) return std::nullopt;
            name.append(text.substr(i, close - i));
            if (close + 1 < text.size() && text[close + 1] == '"') {
                name.push_back('"');
                i = close + 2;
                continue;
            }
            text = text.substr(close + 1);
            break;
        }
        if (name.empty()) return std::nullopt;
    } else {
        if (text.empty() || !identStart(text[0])) return std::nullopt;
        size_t i = 0;
        while (i < text.size() && identPart(text[i]))
            name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(text[i++]))));
        text = text.substr(i);
    }
    text = skipBlanks(text);
    return name;
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

std::optional<PreparedSql> recognisePreparedSql(std::string_view sql) {
    auto statement = oneStatement(sql);
    if (!statement) return std::nullopt;
    std::string_view text = skipBlanks(*statement);
    if (takeKeyword(text, "prepare")) {
        auto name = takeIdentifier(text);
        if (!name || text.empty()) return std::nullopt;
        std::string_view probe = text;
        if (text[0] != '(' && !takeKeyword(probe, "as")) return std::nullopt;
        return PreparedSql{PreparedSql::Kind::Prepare, std::move(*name), text};
    }
    if (takeKeyword(text, "execute")) {
        auto name = takeIdentifier(text);
        if (!name || (!text.empty() && (text.front() != '(' || text.back() != ')'))) return std::nullopt;
        return PreparedSql{PreparedSql::Kind::Execute, std::move(*name), text};
    }
    if (takeKeyword(text, "deallocate")) {
        takeKeyword(text, "prepare");
        std::string_view probe = text;
        if (takeKeyword(probe, "all") && probe.empty()) return PreparedSql{PreparedSql::Kind::DeallocateAll, "", {}};
        auto name = takeIdentifier(text);
        if (!name || !text.empty()) return std::nullopt;
        return PreparedSql{PreparedSql::Kind::Deallocate, std::move(*name), {}};
    }
    return std::nullopt;
}

std::string quoteIdentifier(std::string_view name) {
    bool plain = !name.empty() && (std::islower(static_cast<unsigned char>(name[0])) || name[0] == '_');
    for (char c : name)
        plain = plain && (std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
                          c == '_' || c == '$');
    if (plain) return std::string(name);
    std::string quoted = "\"";
    for (char c : name) {
        if (c == '"') quoted.push_back('"');
        quoted.push_back(c);
    }
    quoted.push_back('"');
    return quoted;
}

}  // namespace sluice::proto
