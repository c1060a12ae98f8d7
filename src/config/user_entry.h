// One line of [users]: `name = pool_mode=... pool_size=...` (PgBouncer 1.25's keys).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace sluice::config {

struct UserEntry {
    std::string name;
    std::optional<std::string> poolMode;
    std::optional<int> poolSize, reservePoolSize, maxUserConnections, maxUserClientConnections;
    // Seconds; they override the global settings of the same name for this user.
    std::optional<double> queryTimeout, queryWaitTimeout, idleTransactionTimeout, transactionTimeout,
        clientIdleTimeout;
};

// The keys a [users] entry accepts, for messages and documentation.
const std::vector<std::string_view>& userEntryKeys();

// Errors carry no file:line; the loader adds it.
Result<UserEntry> parseUserEntry(std::string_view name, std::string_view value);

}  // namespace sluice::config
