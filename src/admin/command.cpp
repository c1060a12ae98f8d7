#include "admin/command.h"

#include <cctype>

#include <fmt/format.h>

#include "proto/codes.h"

namespace sluice::admin {

namespace {

class Lexer {
public:
    explicit Lexer(std::string_view text) : text_(text) {}

    void skipSpace() {
        while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    }
    bool atEnd() {
        skipSpace();
        return pos_ == text_.size();
    }
    // A bare word ([0-9A-Za-z_.-]) or a "quoted" word ("" inside is one quote).
    bool word(std::string& out, bool& quoted) {
        skipSpace();
        out.clear();
        quoted = false;
        if (pos_ < text_.size() && text_[pos_] == '"') return quotedText('"', out) && (quoted = true);
        size_t start = pos_;
        while (pos_ < text_.size() && isWordChar(text_[pos_])) ++pos_;
        out.assign(text_.substr(start, pos_ - start));
        return !out.empty();
    }
    bool quotedText(char quote, std::string& out) {
        ++pos_;
        for (; pos_ < text_.size(); ++pos_) {
            if (text_[pos_] != quote) {
                out += text_[pos_];
                continue;
            }
            if (pos_ + 1 < text_.size() && text_[pos_ + 1] == quote) {
                out += quote;
                ++pos_;
                continue;
            }
            ++pos_;
            return true;
        }
        return false;  // unterminated
    }
    bool peek(char c) {
        skipSpace();
        return pos_ < text_.size() && text_[pos_] == c;
    }
    bool take(char c) {
        if (!peek(c)) return false;
        ++pos_;
        return true;
    }

private:
    static bool isWordChar(char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' || c == '*';
    }
    std::string_view text_;
    size_t pos_ = 0;
};

std::string lower(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

Error syntaxError(std::string_view query) {
    return Error{fmt::format("invalid command '{}', use SHOW HELP;", query), std::string(proto::sqlstate::kSyntaxError)};
}

}  // namespace

Result<Command> parseCommand(std::string_view query) {
    Lexer lexer(query);
    Command command;
    if (lexer.atEnd() || (lexer.take(';') && lexer.atEnd())) return command;  // Kind::Empty

    std::string first;
    bool quoted = false;
    if (!lexer.word(first, quoted) || quoted) return syntaxError(query);
    first = lower(first);
    if (first == "set") {
        if (!lexer.word(command.setKey, quoted)) return syntaxError(query);
        if (!quoted) command.setKey = lower(command.setKey);
        std::string op;
        if (!lexer.take('=')) {
            if (!lexer.word(op, quoted) || lower(op) != "to") return syntaxError(query);
        }
        if (lexer.peek('\'')) {
            lexer.skipSpace();
            if (!lexer.quotedText('\'', command.setValue)) return syntaxError(query);
        } else if (!lexer.word(command.setValue, quoted)) {
            return syntaxError(query);
        }
        command.kind = Command::Kind::Set;
    } else {
        command.kind = Command::Kind::Verb;
        command.verb = first;
        if (!lexer.atEnd() && !lexer.peek(';')) {
            if (!lexer.word(command.argument, quoted)) return syntaxError(query);
        }
    }
    lexer.take(';');
    if (!lexer.atEnd()) return syntaxError(query);
    return command;
}

}  // namespace sluice::admin
