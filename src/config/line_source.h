// Hands out the lines of a configuration file one at a time, with `%include <file>` expanded in
// place (PgBouncer's directive), and knows where each line came from so every message can say
// "file:line". Includes nest at most kMaxIncludeDepth deep and may not form a cycle.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace sluice::config {

struct SourceLine {
    std::string text;  // without the line break
    std::string file;
    int line = 0;
};

class LineSource {
public:
    static constexpr int kMaxIncludeDepth = 10;  // PgBouncer's limit
    static constexpr size_t kMaxLineLength = 64 * 1024;

    // `fileName` names the text in messages; relative includes resolve against its directory.
    LineSource(std::string text, std::string fileName);

    // The next line, or nullopt at the end or after an error (then error() says what happened).
    std::optional<SourceLine> next();
    const std::optional<Error>& error() const { return error_; }

    // Where the line last returned by next() came from.
    const std::string& currentFile() const { return current_.file; }
    int currentLine() const { return current_.line; }

private:
    struct Frame {
        std::string file;      // as named by the user, for messages
        std::string identity;  // canonical path, for cycle detection
        std::string text;
        size_t pos = 0;
        int line = 0;
    };

    bool include(std::string_view target);
    void fail(std::string message);

    std::vector<Frame> stack_;
    SourceLine current_;
    std::optional<Error> error_;
};

// Reads a whole file; the error names the file and the reason.
Result<std::string> readTextFile(const std::string& path);

}  // namespace sluice::config
