// Figures from a running Sluice's admin console (database `pgbouncer`, as the fixture's
// superuser), for tests that wait for the pooler to reach a state. Each call opens a console
// connection of its own, so it can be polled from waitUntil.
#pragma once

#include <string>

#include "sluice_process.h"

namespace sluice::itest {

// Column `column` of SHOW POOLS for the pool (database, user); -1 when the console, the pool or
// the column is missing.
int poolValue(const SluiceProcess& sluice, const std::string& column, const std::string& database = "app",
              const std::string& user = "app");

// Column `column` of SHOW STATS for `database` (total_server_parse_count, …); -1 when the
// console, the database or the column is missing.
long long statsValue(const SluiceProcess& sluice, const std::string& column, const std::string& database = "app");

// Rows of `command` (SHOW CLIENTS, SHOW SERVERS, …) whose `database` column is `database`; -1
// when the console or the column is missing.
int rowsForDatabase(const SluiceProcess& sluice, const std::string& command, const std::string& database = "app");

}  // namespace sluice::itest
