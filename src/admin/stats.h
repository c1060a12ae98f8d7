// SHOW STATS, STATS_TOTALS, STATS_AVERAGES, TOTALS and the stats_period log line. Totals are
// the workers' counters summed at the moment of asking; averages cover the last complete
// stats_period, from the two latest samples (as in PgBouncer).
#pragma once

#include <map>
#include <string>

#include "admin/result_set.h"
#include "admin/show.h"
#include "pool/pool_stats.h"
#include "util/clock.h"

namespace sluice::admin {

// Per-second rates and per-item times over one period, in PgBouncer's units.
struct Averages {
    uint64_t serverAssignments = 0, transactions = 0, queries = 0, bytesReceived = 0, bytesSent = 0;
    uint64_t transactionMicros = 0, queryMicros = 0, waitMicros = 0, clientLogins = 0;
    uint64_t clientParses = 0, serverParses = 0, binds = 0;
};

Averages averagesBetween(const pool::PoolStats& older, const pool::PoolStats& newer, double seconds);

class StatsHistory {
public:
    // `start`: when counting began (process start); the first period is measured from it.
    explicit StatsHistory(TimePoint start = Clock::now()) : newerAt_(start), olderAt_(start) {}

    // A stats_period tick: the current totals become the newest sample.
    void record(const Reports& reports, TimePoint now = Clock::now());

    ResultSet showStats(const Reports& reports) const;
    // SHOW STATS and, after its columns, the client logins Sluice counts too (total and per
    // second), which PgBouncer 1.25 does not show: for /metrics, never for the console.
    ResultSet metricsStats(const Reports& reports) const;
    ResultSet showStatsTotals(const Reports& reports) const;
    ResultSet showStatsAverages(const Reports& reports) const;
    ResultSet showTotals(const Reports& reports) const;
    // PgBouncer's "stats: N xacts/s, …" line for the last period, all databases together.
    std::string logLine() const;

    // A query to the admin console: as in PgBouncer, one transaction and one query of the
    // database "pgbouncer", which has its row in SHOW STATS and counts in SHOW TOTALS.
    void countConsoleQuery() {
        ++console_.transactions;
        ++console_.queries;
    }

private:
    // The workers' counters summed per database, with the console's row.
    std::map<std::string, pool::PoolStats> totals(const Reports& reports) const;
    ResultSet statsSet(const Reports& reports, bool withLogins) const;
    Averages averagesOf(const std::string& database) const;
    Averages overallAverages() const;

    // Before the first tick the newest sample is "nothing counted, at start", so the first
    // period is averaged too (as PgBouncer does).
    std::map<std::string, pool::PoolStats> newer_, older_;
    TimePoint newerAt_, olderAt_;
    bool haveOlder_ = false;
    pool::PoolStats console_;
};

// The workers' counters summed per database.
std::map<std::string, pool::PoolStats> totalsByDatabase(const Reports& reports);

}  // namespace sluice::admin
