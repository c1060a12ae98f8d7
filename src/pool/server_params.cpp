#include "pool/server_params.h"

#include <algorithm>
#include <cctype>

namespace sluice::pool {

bool parameterNamesEqual(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

const std::string* ServerParams::find(std::string_view name) const {
    for (const auto& [key, value] : entries_)
        if (parameterNamesEqual(key, name)) return &value;
    return nullptr;
}

void ServerParams::set(std::string_view name, std::string_view value) {
    for (auto& [key, current] : entries_) {
        if (parameterNamesEqual(key, name)) {
            current.assign(value);
            return;
        }
    }
    entries_.emplace_back(std::string(name), std::string(value));
}

void ServerParams::erase(std::string_view name) {
    std::erase_if(entries_, [&](const Entry& e) { return parameterNamesEqual(e.first, name); });
}

}  // namespace sluice::pool
