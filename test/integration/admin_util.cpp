#include "admin_util.h"

#include <algorithm>

#include "pq_util.h"

namespace sluice::itest {

namespace {

QueryResult consoleQuery(const SluiceProcess& sluice, const std::string& command) {
    PqConn console(sluice.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
    return console.exec(command);
}

// Index of `name` among the result's columns; -1 when absent.
int columnOf(const QueryResult& result, const std::string& name) {
    auto it = std::find(result.columns.begin(), result.columns.end(), name);
    return it == result.columns.end() ? -1 : static_cast<int>(it - result.columns.begin());
}

}  // namespace

int poolValue(const SluiceProcess& sluice, const std::string& column, const std::string& database,
              const std::string& user) {
    const QueryResult pools = consoleQuery(sluice, "SHOW POOLS");
    const int db = columnOf(pools, "database"), usr = columnOf(pools, "user"), wanted = columnOf(pools, column);
    if (!pools.ok || db < 0 || usr < 0 || wanted < 0) return -1;
    for (const auto& row : pools.rows)
        if (row[db] == database && row[usr] == user) return std::stoi(row[wanted]);
    return -1;
}

long long statsValue(const SluiceProcess& sluice, const std::string& column, const std::string& database) {
    const QueryResult stats = consoleQuery(sluice, "SHOW STATS");
    const int db = columnOf(stats, "database"), wanted = columnOf(stats, column);
    if (!stats.ok || db < 0 || wanted < 0) return -1;
    for (const auto& row : stats.rows)
        if (row[db] == database) return std::stoll(row[wanted]);
    return -1;
}

int rowsForDatabase(const SluiceProcess& sluice, const std::string& command, const std::string& database) {
    const QueryResult result = consoleQuery(sluice, command);
    const int db = columnOf(result, "database");
    if (!result.ok || db < 0) return -1;
    return static_cast<int>(std::count_if(result.rows.begin(), result.rows.end(),
                                          [&](const auto& row) { return row[db] == database; }));
}

}  // namespace sluice::itest
