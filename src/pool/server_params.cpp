#include "pool/server_params.h"

#include <algorithm>

namespace sluice::pool {

// Parameter names are ASCII: folding by hand avoids a locale-aware call per character on the
// path that hands a server to a client.
bool parameterNamesEqual(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x == y) continue;
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + ('a' - 'A'));
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + ('a' - 'A'));
        if (x != y) return false;
    }
    return true;
}

const std::string* ServerParams::find(std::string_view name) const {
    for (const auto& [key, value] : entries_)
        if (parameterNamesEqual(key, name)) return &value;
    return nullptr;
}

void ServerParams::set(std::string_view name, std::string_view value) {
    for (auto& [key, current] : entries_) {
        if (parameterNamesEqual(key, name)) {
            if (current != value) ++version_;
            current.assign(value);
            return;
        }
    }
    ++version_;
    entries_.emplace_back(std::string(name), std::string(value));
}

void ServerParams::erase(std::string_view name) {
    ++version_;
    std::erase_if(entries_, [&](const Entry& e) { return parameterNamesEqual(e.first, name); });
}

}  // namespace sluice::pool
