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

Result<std::pair<std::string, std::string>> splitSetting(const std::string& setting) {
    size_t eq = setting.find('=');
    if (eq == std::string::npos || eq == 0)
        return Error{fmt::format("invalid setting in startup options: \"{}\" (expected name=value)", setting),
                     "08P01"};
    std::string name = setting.substr(0, eq);
    for (char& c : name)
        if (c == '-') c = '_';  // PostgreSQL accepts --statement-timeout for statement_timeout
    return std::pair{name, setting.substr(eq + 1)};
}

}  // namespace

Result<OptionSettings> parseStartupOptions(std::string_view options) {
    OptionSettings settings;
    auto words = splitOptions(options);
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string& word = words[i];
        std::string setting;
        if (word == "-c") {
            if (i + 1 >= words.size()) return Error{"startup options end after -c", "08P01"};
            setting = words[++i];
        } else if (word.rfind("-c", 0) == 0) {
            setting = word.substr(2);
        } else if (word.rfind("--", 0) == 0) {
            setting = word.substr(2);
        } else {
            return Error{fmt::format("unsupported startup option: \"{}\" (only -c name=value is supported)", word),
                         "08P01"};
        }
        auto split = splitSetting(setting);
        if (!split) return split.error();
        settings.push_back(std::move(split.value()));
    }
    return settings;
}

}  // namespace sluice::conn
