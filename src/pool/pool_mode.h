#pragma once

#include <optional>
#include <string_view>

namespace sluice::pool {

enum class PoolMode { Session, Transaction, Statement };

std::optional<PoolMode> parsePoolMode(std::string_view text);
std::string_view poolModeName(PoolMode mode);

}  // namespace sluice::pool
