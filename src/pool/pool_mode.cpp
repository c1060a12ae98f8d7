#include "pool/pool_mode.h"

namespace sluice::pool {

std::optional<PoolMode> parsePoolMode(std::string_view text) {
    if (text == "session") return PoolMode::Session;
    if (text == "transaction") return PoolMode::Transaction;
    if (text == "statement") return PoolMode::Statement;
    return std::nullopt;
}

std::string_view poolModeName(PoolMode mode) {
    switch (mode) {
        case PoolMode::Session: return "session";
        case PoolMode::Transaction: return "transaction";
        case PoolMode::Statement: return "statement";
    }
    return "session";
}

}  // namespace sluice::pool
