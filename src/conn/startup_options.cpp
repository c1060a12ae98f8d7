#include "conn/startup_options.h"

#include <fmt/format.h>

namespace sluice::conn {

namespace {

std::vector<std::string> splitOptions(std::string_view text) {
    std::vector<std::string> words;
    std::string word;
    bool inWord = false;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (inWord) words.push_back(std::move(word));
            word.clear();
            inWord = false;
            continue;
        }
        if (c == '\\' && i + 1 < text.size()) c = text[++i];
        word += c;
        inWord = true;
    }
    if (inWord) words.push_back(std::move(word));
    return words;
}

// PgBouncer's words for any options value it cannot take, whatever is wrong with it.
Error unsupported() {
    return Error{"unsupported options startup parameter: only '-c config=val' and '--config=val' are allowed",
                 "08P01"};
}

}  // namespace

Result<OptionSettings> parseStartupOptions(std::string_view options) {
    OptionSettings settings;
    auto words = splitOptions(options);
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string& word = words[i];
        std::string setting;
        if (word == "-c") {
            if (i + 1 >= words.size()) return unsupported();
            setting = words[++i];
        } else if (word.starts_with("-c") || word.starts_with("--")) {
            setting = word.substr(2);
        } else {
            return unsupported();
        }
        const size_t eq = setting.find('=');
        if (eq == std::string::npos || eq == 0) return unsupported();
        std::string name = setting.substr(0, eq);
        for (char& c : name)
            if (c == '-') c = '_';  // PostgreSQL reads --statement-timeout as statement_timeout
        settings.emplace_back(std::move(name), setting.substr(eq + 1));
    }
    return settings;
}

}  // namespace sluice::conn
