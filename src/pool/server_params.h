// The run-time parameters a server reports (ParameterStatus) or a client asks for, by name.
// PostgreSQL treats parameter names case-insensitively; the spelling first seen is kept for output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::pool {

class ServerParams {
public:
    using Entry = std::pair<std::string, std::string>;

    const std::string* find(std::string_view name) const;
    void set(std::string_view name, std::string_view value);
    void erase(std::string_view name);
    bool empty() const { return entries_.empty(); }
    const std::vector<Entry>& entries() const { return entries_; }
    // Counts changes, so "unchanged since" is one comparison.
    uint64_t version() const { return version_; }
    bool operator==(const ServerParams& other) const { return entries_ == other.entries_; }

private:
    std::vector<Entry> entries_;  // a handful of entries: a vector beats a map here
    uint64_t version_ = 0;
};

bool parameterNamesEqual(std::string_view a, std::string_view b);

}  // namespace sluice::pool
