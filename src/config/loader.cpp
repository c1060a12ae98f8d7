// The ini loader. inih splits `name = value` lines; our reader callback sits in front of it and
// does what inih cannot: %include (through LineSource), file:line positions across included files,
// PgBouncer's stricter syntax (no ':' separator, no continuation lines, no inline comments).
#include <ini.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "config/config.h"
#include "config/conn_string.h"
#include "config/line_source.h"
#include "config/peer_entry.h"
#include "config/value_parse.h"

namespace sluice::config {
namespace {

// inih's options are process-wide globals in Debian's build; set them for the duration of one
// parse and put them back, one parse at a time.
class InihOptions {
public:
    InihOptions() : lock_(mutex()) {
        saved_ = {ini_allow_multiline, ini_allow_inline_comments, ini_use_stack, ini_allow_realloc,
                  ini_initial_alloc, ini_max_line, ini_stop_on_first_error, ini_allow_no_value};
        ini_allow_multiline = false;        // PgBouncer has no continuation lines
        ini_allow_inline_comments = false;  // PgBouncer keeps ';' and '#' inside values
        ini_use_stack = false;              // heap buffer that grows, for long connection strings
        ini_allow_realloc = true;
        ini_initial_alloc = 256;
        ini_max_line = static_cast<int>(LineSource::kMaxLineLength) + 16;
        ini_stop_on_first_error = false;
        ini_allow_no_value = false;
    }
    ~InihOptions() {
        ini_allow_multiline = saved_.multiline;
        ini_allow_inline_comments = saved_.inlineComments;
        ini_use_stack = saved_.useStack;
        ini_allow_realloc = saved_.realloc;
        ini_initial_alloc = saved_.initialAlloc;
        ini_max_line = saved_.maxLine;
        ini_stop_on_first_error = saved_.stopOnFirstError;
        ini_allow_no_value = saved_.noValue;
    }
    InihOptions(const InihOptions&) = delete;
    InihOptions& operator=(const InihOptions&) = delete;

private:
    static std::mutex& mutex() {
        static std::mutex m;
        return m;
    }
    struct Saved {
        bool multiline, inlineComments, useStack, realloc;
        int initialAlloc, maxLine;
        bool stopOnFirstError, noValue;
    };
    std::lock_guard<std::mutex> lock_;
    Saved saved_{};
};

enum class Section { None, Pooler, Databases, Users, Peers, Unknown };

bool isPlainNameChar(char c) {
    const auto u = static_cast<unsigned char>(c);
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-' || c == '*' || u >= 0x80;
}

// "name" with "" for a quote inside -> name. Non-quoted names come back unchanged.
std::string unquoteName(std::string_view name) {
    if (name.size() < 2 || name.front() != '"' || name.back() != '"') return std::string(name);
    std::string plain;
    for (size_t i = 1; i + 1 < name.size(); ++i) {
        plain += name[i];
        if (name[i] == '"') ++i;  // the second quote of a "" pair
    }
    return plain;
}

class Loader {
public:
    Loader(std::string text, std::string fileName) : source_(std::move(text), fileName) {
        config_.path = fileName;
        config_.settings.conffile = std::move(fileName);
    }

    Result<Config> run() {
        int status = 0;
        {
            InihOptions options;
            status = ini_parse_stream(&Loader::readChunk, this, &Loader::onPair, this);
        }
        if (source_.error()) errors_.push_back(source_.error()->message);
        if (status == -2) errors_.push_back(config_.path + ": out of memory while parsing");
        else if (status != 0 && errors_.empty())
            errors_.push_back(config_.path + ": the ini parser rejected a line near line " + std::to_string(status));
        if (errors_.empty() && !sawMainSection_)
            errors_.push_back(config_.path + ": no [pgbouncer] (or [pooler]) section");
        if (!errors_.empty()) {
            std::string message;
            for (const auto& error : errors_) message += (message.empty() ? "" : "\n") + error;
            return Error{std::move(message), ""};
        }
        return std::move(config_);
    }

private:
    // fgets-like: hands inih the current line in pieces of at most size-1 bytes (inih grows its
    // buffer and asks again when a piece does not end in '\n').
    static char* readChunk(char* buffer, int size, void* self) {
        auto& loader = *static_cast<Loader*>(self);
        if (size < 2) return nullptr;
        if (loader.offset_ >= loader.pending_.size() && !loader.fetchLine()) return nullptr;
        const size_t count = std::min(static_cast<size_t>(size - 1), loader.pending_.size() - loader.offset_);
        std::memcpy(buffer, loader.pending_.data() + loader.offset_, count);
        buffer[count] = '\0';
        loader.offset_ += count;
        return buffer;
    }

    static int onPair(void* self, const char* /*section: we track our own*/, const char* name, const char* value) {
        static_cast<Loader*>(self)->handlePair(name, value);
        return 1;  // problems are collected in errors_, so inih keeps going
    }

    std::string where() const { return source_.currentFile() + ":" + std::to_string(source_.currentLine()); }

    void syntaxError(const std::string& what) { errors_.push_back(where() + ": syntax error: " + what); }

    // Takes lines from the source until one is worth handing to inih; false at the end or on a
    // syntax error (which stops loading, as in PgBouncer).
    bool fetchLine() {
        while (auto line = source_.next()) {
            const std::string_view text = trim(line->text);
            if (text.empty() || text.front() == ';' || text.front() == '#') continue;
            if (text.front() == '[') {
                if (!enterSection(text)) return false;
            } else if (text.front() == '%') {
                syntaxError("unknown directive '" + std::string(text.substr(0, text.find_first_of(" \t"))) +
                            "' (only %include is known)");
                return false;
            } else if (!checkPairSyntax(text)) {
                return false;
            }
            pending_ = std::string(text) + "\n";
            offset_ = 0;
            return true;
        }
        return false;
    }

    bool enterSection(std::string_view text) {
        const size_t close = text.find(']');
        if (close == std::string_view::npos) {
            syntaxError("missing ']' in section header");
            return false;
        }
        const std::string_view after = trim(text.substr(close + 1));
        if (!after.empty() && after.front() != ';' && after.front() != '#') {
            syntaxError("unexpected text after section header: '" + std::string(after) + "'");
            return false;
        }
        const std::string name = toLower(trim(text.substr(1, close - 1)));
        if (name == "pgbouncer" || name == "pooler") {
            section_ = Section::Pooler;
            sawMainSection_ = true;
        } else if (name == "databases") {
            section_ = Section::Databases;
        } else if (name == "users") {
            section_ = Section::Users;
        } else if (name == "peers") {
            section_ = Section::Peers;
        } else {
            section_ = Section::Unknown;
            config_.warnings.push_back(where() + ": unknown section [" + name + "]; its lines are ignored");
        }
        return true;
    }

    bool checkPairSyntax(std::string_view text) {
        std::string_view name;
        if (text.front() == '"') {
            size_t pos = 1;
            while (pos < text.size()) {
                if (text[pos] == '"' && pos + 1 < text.size() && text[pos + 1] == '"') pos += 2;
                else if (text[pos] == '"') break;
                else ++pos;
            }
            if (pos >= text.size()) {
                syntaxError("unterminated quoted name");
                return false;
            }
            name = text.substr(0, pos + 1);
            // inih splits at the first '=' or ':' even inside our quotes.
            if (name.find_first_of("=:") != std::string_view::npos) {
                syntaxError("names containing '=' or ':' are not supported: " + std::string(name));
                return false;
            }
            if (trim(text.substr(pos + 1)).substr(0, 1) != "=") {
                syntaxError("expected '=' after " + std::string(name));
                return false;
            }
        } else {
            const size_t equals = text.find('=');
            if (equals == std::string_view::npos) {
                syntaxError("expected 'name = value', a [section] header, a comment or %include, got '" +
                            std::string(text) + "'");
                return false;
            }
            name = trim(text.substr(0, equals));
            if (name.empty()) {
                syntaxError("missing name before '='");
                return false;
            }
            for (char c : name) {
                if (!isPlainNameChar(c)) {
                    syntaxError("invalid character '" + std::string(1, c) + "' in name '" + std::string(name) +
                                "' (write names with other characters in double quotes)");
                    return false;
                }
            }
        }
        if (section_ == Section::None) {
            syntaxError("'" + std::string(name) + "' appears before any [section]");
            return false;
        }
        return true;
    }

    void handlePair(std::string_view name, std::string_view value) {
        switch (section_) {
            case Section::Pooler:
                return handleSetting(name, value);
            case Section::Databases:
                return handleDatabase(unquoteName(name), value);
            case Section::Users:
                return handleUser(unquoteName(name), value);
            case Section::Peers:
                return handlePeer(name, value);
            case Section::None:
            case Section::Unknown:
                return;
        }
    }

    void handleSetting(std::string_view name, std::string_view value) {
        const SettingDef* def = findSetting(name);
        if (!def) {
            config_.warnings.push_back(where() + ": unknown setting '" + toLower(name) + "'");
            return;
        }
        auto status = setSetting(config_.settings, *def, value);
        if (!status) {
            errors_.push_back(where() + ": " + status.error().message);
            return;
        }
        if (!def->supported)
            config_.warnings.push_back(where() + ": setting " + std::string(def->name) +
                                       " is not supported yet by Sluice; it is ignored");
    }

    void handleDatabase(const std::string& name, std::string_view value) {
        auto entry = parseDatabaseEntry(name, value);
        if (!entry) {
            errors_.push_back(where() + ": database '" + name + "': " + entry.error().message);
            return;
        }
        entry->file = source_.currentFile();
        entry->line = source_.currentLine();
        if (name == "*") config_.fallbackDatabase = std::move(entry.value());
        else config_.databases.insert_or_assign(name, std::move(entry.value()));
    }

    void handleUser(const std::string& name, std::string_view value) {
        auto entry = parseUserEntry(name, value);
        if (!entry) {
            errors_.push_back(where() + ": user '" + name + "': " + entry.error().message);
            return;
        }
        config_.users.insert_or_assign(name, std::move(entry.value()));
    }

    void handlePeer(std::string_view id, std::string_view value) {
        auto entry = parsePeerEntry(id, value);
        if (!entry) {
            errors_.push_back(where() + ": peer '" + std::string(id) + "': " + entry.error().message);
            return;
        }
        config_.peers.insert_or_assign(entry->id, std::move(entry.value()));
    }

    LineSource source_;
    Config config_;
    std::vector<std::string> errors_;
    Section section_ = Section::None;
    bool sawMainSection_ = false;
    std::string pending_;
    size_t offset_ = 0;
};

}  // namespace

Result<Config> parseConfigString(std::string_view text, std::string_view fileName) {
    return Loader(std::string(text), std::string(fileName)).run();
}

Result<Config> loadConfig(const std::string& path) {
    auto text = readTextFile(path);
    if (!text) return Error{"cannot load configuration: " + text.error().message, ""};
    return Loader(std::move(text.value()), path).run();
}

}  // namespace sluice::config
