#include "admin/stats.h"

#include <fmt/format.h>

namespace sluice::admin {

namespace {

uint64_t minus(uint64_t newer, uint64_t older) { return newer > older ? newer - older : 0; }

pool::PoolStats sum(const std::map<std::string, pool::PoolStats>& byDatabase) {
    pool::PoolStats total;
    for (const auto& [name, stats] : byDatabase) total += stats;
    return total;
}

}  // namespace

Averages averagesBetween(const pool::PoolStats& older, const pool::PoolStats& newer, double seconds) {
    Averages avg;
    if (seconds <= 0) return avg;
    auto rate = [seconds](uint64_t delta) { return static_cast<uint64_t>(static_cast<double>(delta) / seconds); };
    const uint64_t assignments = minus(newer.serverAssignments, older.serverAssignments);
    const uint64_t transactions = minus(newer.transactions, older.transactions);
    const uint64_t queries = minus(newer.queries, older.queries);
    avg.serverAssignments = rate(assignments);
    avg.transactions = rate(transactions);
    avg.queries = rate(queries);
    avg.bytesReceived = rate(minus(newer.bytesReceived, older.bytesReceived));
    avg.bytesSent = rate(minus(newer.bytesSent, older.bytesSent));
    avg.clientLogins = rate(minus(newer.clientLogins, older.clientLogins));
    avg.clientParses = rate(minus(newer.clientParses, older.clientParses));
    avg.serverParses = rate(minus(newer.serverParses, older.serverParses));
    avg.binds = rate(minus(newer.binds, older.binds));
    if (transactions) avg.transactionMicros = minus(newer.transactionMicros, older.transactionMicros) / transactions;
    if (queries) avg.queryMicros = minus(newer.queryMicros, older.queryMicros) / queries;
    if (assignments) avg.waitMicros = minus(newer.waitMicros, older.waitMicros) / assignments;
    return avg;
}

std::map<std::string, pool::PoolStats> totalsByDatabase(const Reports& reports) {
    std::map<std::string, pool::PoolStats> totals;
    for (const auto& report : reports)
        for (const auto& pool : report.pools) totals[pool.database] += pool.stats;
    return totals;
}

std::map<std::string, pool::PoolStats> StatsHistory::totals(const Reports& reports) const {
    std::map<std::string, pool::PoolStats> byDatabase = totalsByDatabase(reports);
    byDatabase[kConsoleDatabase] += console_;
    return byDatabase;
}

void StatsHistory::record(const Reports& reports, TimePoint now) {
    older_ = std::move(newer_);
    olderAt_ = newerAt_;
    haveOlder_ = true;
    newer_ = totals(reports);
    newerAt_ = now;
}

Averages StatsHistory::averagesOf(const std::string& database) const {
    if (!haveOlder_) return {};
    auto newer = newer_.find(database);
    if (newer == newer_.end()) return {};
    auto older = older_.find(database);
    return averagesBetween(older == older_.end() ? pool::PoolStats{} : older->second, newer->second,
                           secondsSince(olderAt_, newerAt_));
}

Averages StatsHistory::overallAverages() const {
    if (!haveOlder_) return {};
    return averagesBetween(sum(older_), sum(newer_), secondsSince(olderAt_, newerAt_));
}

ResultSet StatsHistory::showStats(const Reports& reports) const { return statsSet(reports, false); }

ResultSet StatsHistory::metricsStats(const Reports& reports) const { return statsSet(reports, true); }

ResultSet StatsHistory::statsSet(const Reports& reports, bool withLogins) const {
    // PgBouncer 1.25.2's columns, in its order; client logins (counted only after 1.25) go last,
    // and only where no PgBouncer client reads the columns by position.
    ResultSet::Columns columns = {{"database", ColumnType::Text},
                                  {"total_server_assignment_count", ColumnType::Numeric},
                                  {"total_xact_count", ColumnType::Numeric},
                                  {"total_query_count", ColumnType::Numeric},
                                  {"total_received", ColumnType::Numeric},
                                  {"total_sent", ColumnType::Numeric},
                                  {"total_xact_time", ColumnType::Numeric},
                                  {"total_query_time", ColumnType::Numeric},
                                  {"total_wait_time", ColumnType::Numeric},
                                  {"total_client_parse_count", ColumnType::Numeric},
                                  {"total_server_parse_count", ColumnType::Numeric},
                                  {"total_bind_count", ColumnType::Numeric},
                                  {"avg_server_assignment_count", ColumnType::Numeric},
                                  {"avg_xact_count", ColumnType::Numeric},
                                  {"avg_query_count", ColumnType::Numeric},
                                  {"avg_recv", ColumnType::Numeric},
                                  {"avg_sent", ColumnType::Numeric},
                                  {"avg_xact_time", ColumnType::Numeric},
                                  {"avg_query_time", ColumnType::Numeric},
                                  {"avg_wait_time", ColumnType::Numeric},
                                  {"avg_client_parse_count", ColumnType::Numeric},
                                  {"avg_server_parse_count", ColumnType::Numeric},
                                  {"avg_bind_count", ColumnType::Numeric}};
    if (withLogins) {
        columns.emplace_back("total_client_connect_count", ColumnType::Numeric);
        columns.emplace_back("avg_client_connect_count", ColumnType::Numeric);
    }
    ResultSet set(columns);
    for (const auto& [database, t] : totals(reports)) {
        const Averages a = averagesOf(database);
        std::vector<Cell> row = {database,       t.serverAssignments, t.transactions,      t.queries,
                                 t.bytesReceived, t.bytesSent,        t.transactionMicros, t.queryMicros,
                                 t.waitMicros,    t.clientParses,     t.serverParses,      t.binds,
                                 a.serverAssignments, a.transactions, a.queries,           a.bytesReceived,
                                 a.bytesSent,     a.transactionMicros, a.queryMicros,      a.waitMicros,
                                 a.clientParses,  a.serverParses,     a.binds};
        if (withLogins) {
            row.emplace_back(t.clientLogins);
            row.emplace_back(a.clientLogins);
        }
        set.addRow(row);
    }
    return set;
}

ResultSet StatsHistory::showStatsTotals(const Reports& reports) const {
    ResultSet set{{"database", ColumnType::Text},           {"server_assignment_count", ColumnType::Numeric},
                  {"xact_count", ColumnType::Numeric},      {"query_count", ColumnType::Numeric},
                  {"bytes_received", ColumnType::Numeric},  {"bytes_sent", ColumnType::Numeric},
                  {"xact_time", ColumnType::Numeric},       {"query_time", ColumnType::Numeric},
                  {"wait_time", ColumnType::Numeric},       {"client_parse_count", ColumnType::Numeric},
                  {"server_parse_count", ColumnType::Numeric}, {"bind_count", ColumnType::Numeric}};
    for (const auto& [database, t] : totals(reports))
        set.addRow({database, t.serverAssignments, t.transactions, t.queries, t.bytesReceived, t.bytesSent,
                    t.transactionMicros, t.queryMicros, t.waitMicros, t.clientParses, t.serverParses, t.binds});
    return set;
}

ResultSet StatsHistory::showStatsAverages(const Reports& reports) const {
    ResultSet set{{"database", ColumnType::Text},           {"server_assignment_count", ColumnType::Numeric},
                  {"xact_count", ColumnType::Numeric},      {"query_count", ColumnType::Numeric},
                  {"bytes_received", ColumnType::Numeric},  {"bytes_sent", ColumnType::Numeric},
                  {"xact_time", ColumnType::Numeric},       {"query_time", ColumnType::Numeric},
                  {"wait_time", ColumnType::Numeric},       {"avg_client_parse_count", ColumnType::Numeric},
                  {"avg_server_parse_count", ColumnType::Numeric}, {"avg_bind_count", ColumnType::Numeric}};
    for (const auto& [database, t] : totals(reports)) {
        const Averages a = averagesOf(database);
        set.addRow({database, a.serverAssignments, a.transactions, a.queries, a.bytesReceived, a.bytesSent,
                    a.transactionMicros, a.queryMicros, a.waitMicros, a.clientParses, a.serverParses, a.binds});
    }
    return set;
}

// PgBouncer 1.25 names these rows after its counters, not after SHOW STATS' columns.
ResultSet StatsHistory::showTotals(const Reports& reports) const {
    ResultSet set{{"name", ColumnType::Text}, {"value", ColumnType::Numeric}};
    const pool::PoolStats t = sum(totals(reports));
    const Averages a = overallAverages();
    const std::pair<const char*, uint64_t> rows[] = {
        {"total_server_assignment_count", t.serverAssignments},
        {"total_xact_count", t.transactions},
        {"total_query_count", t.queries},
        {"total_client_bytes", t.bytesReceived},
        {"total_server_bytes", t.bytesSent},
        {"total_xact_time", t.transactionMicros},
        {"total_query_time", t.queryMicros},
        {"total_wait_time", t.waitMicros},
        {"total_ps_client_parse_count", t.clientParses},
        {"total_ps_server_parse_count", t.serverParses},
        {"total_ps_bind_count", t.binds},
        {"avg_server_assignment_count", a.serverAssignments},
        {"avg_xact_count", a.transactions},
        {"avg_query_count", a.queries},
        {"avg_client_bytes", a.bytesReceived},
        {"avg_server_bytes", a.bytesSent},
        {"avg_xact_time", a.transactionMicros},
        {"avg_query_time", a.queryMicros},
        {"avg_wait_time", a.waitMicros},
        {"avg_ps_client_parse_count", a.clientParses},
        {"avg_ps_server_parse_count", a.serverParses},
        {"avg_ps_bind_count", a.binds},
    };
    for (const auto& [name, value] : rows) set.addRow({name, value});
    return set;
}

std::string StatsHistory::logLine() const {
    const Averages a = overallAverages();
    return fmt::format(
        "stats: {} xacts/s, {} queries/s, {} client parses/s, {} server parses/s, {} binds/s, in {} B/s, out {} B/s, "
        "xact {} us, query {} us, wait {} us",
        a.transactions, a.queries, a.clientParses, a.serverParses, a.binds, a.bytesReceived, a.bytesSent, a.transactionMicros, a.queryMicros, a.waitMicros);
}

}  // namespace sluice::admin
