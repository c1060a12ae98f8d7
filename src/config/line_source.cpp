#include "config/line_source.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/value_parse.h"

namespace sluice::config {
namespace {

namespace fs = std::filesystem;

std::string identityOf(const std::string& path) {
    std::error_code ec;
    const fs::path canonical = fs::weakly_canonical(fs::path(path), ec);
    return ec ? path : canonical.string();
}

// "%include file" (blank after the keyword, as PgBouncer requires); returns the file part.
std::optional<std::string_view> includeTarget(std::string_view trimmed) {
    constexpr std::string_view kKeyword = "%include";
    if (trimmed.substr(0, kKeyword.size()) != kKeyword) return std::nullopt;
    const std::string_view rest = trimmed.substr(kKeyword.size());
    if (rest.empty() || (rest.front() != ' ' && rest.front() != '\t')) return std::nullopt;
    return trim(rest);
}

}  // namespace

Result<std::string> readTextFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{"cannot open '" + path + "': " + std::strerror(errno), ""};
    std::ostringstream contents;
    contents << in.rdbuf();
    if (in.bad()) return Error{"cannot read '" + path + "': " + std::strerror(errno), ""};
    return contents.str();
}

LineSource::LineSource(std::string text, std::string fileName) {
    Frame root;
    root.identity = identityOf(fileName);
    root.file = std::move(fileName);
    root.text = std::move(text);
    stack_.push_back(std::move(root));
}

void LineSource::fail(std::string message) {
    error_ = Error{current_.file + ":" + std::to_string(current_.line) + ": " + std::move(message), ""};
    stack_.clear();
}

bool LineSource::include(std::string_view target) {
    if (target.empty()) {
        fail("%include needs a file name");
        return false;
    }
    if (static_cast<int>(stack_.size()) > kMaxIncludeDepth) {
        fail("%include nested more than " + std::to_string(kMaxIncludeDepth) + " levels deep");
        return false;
    }
    fs::path path(target);
    if (path.is_relative()) path = fs::path(stack_.back().file).parent_path() / path;
    Frame frame;
    frame.file = path.string();
    frame.identity = identityOf(frame.file);
    for (const auto& open : stack_) {
        if (open.identity == frame.identity) {
            fail("%include cycle: '" + frame.file + "' is already being read");
            return false;
        }
    }
    auto text = readTextFile(frame.file);
    if (!text) {
        fail("%include: " + text.error().message);
        return false;
    }
    frame.text = std::move(text.value());
    stack_.push_back(std::move(frame));
    return true;
}

std::optional<SourceLine> LineSource::next() {
    while (!stack_.empty()) {
        Frame& frame = stack_.back();
        if (frame.pos >= frame.text.size()) {
            stack_.pop_back();
            continue;
        }
        const size_t end = frame.text.find('\n', frame.pos);
        const size_t stop = end == std::string::npos ? frame.text.size() : end;
        std::string_view raw(frame.text.data() + frame.pos, stop - frame.pos);
        frame.pos = stop + 1;
        ++frame.line;
        if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
        constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
        if (frame.line == 1 && raw.substr(0, kUtf8Bom.size()) == kUtf8Bom) raw.remove_prefix(kUtf8Bom.size());

        current_ = SourceLine{std::string(raw), frame.file, frame.line};
        if (raw.size() > kMaxLineLength) {
            fail("line is longer than " + std::to_string(kMaxLineLength) + " characters");
            return std::nullopt;
        }
        if (raw.find('\0') != std::string_view::npos) {
            fail("line contains a NUL byte");
            return std::nullopt;
        }
        if (auto target = includeTarget(trim(raw))) {
            if (!include(*target)) return std::nullopt;
            continue;
        }
        return current_;
    }
    return std::nullopt;
}

}  // namespace sluice::config
