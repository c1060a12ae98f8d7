// pgbench through Sluice in transaction and statement pooling: 200 clients share a pool of 10,
// with the simple and the extended protocol, the select-only and the tpcb-like scripts. Every
// transaction must succeed, and PostgreSQL must never see more than the pool's 10 backends.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pg_server.h"
#include "pgbench_util.h"
#include "pq_util.h"
#include "sluice_process.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

constexpr int kClients = 200;
constexpr int kPoolSize = 10;

struct Case {
    std::string poolMode;  // transaction | statement
    std::string protocol;  // simple | extended
    bool selectOnly;
    bool directWrites = false;  // SLUICE_NO_IO_URING: each message its own send, as without io_uring
};

std::string caseName(const ::testing::TestParamInfo<Case>& info) {
    return info.param.poolMode + "_" + info.param.protocol + (info.param.selectOnly ? "_selectonly" : "_tpcb") +
           (info.param.directWrites ? "_directwrites" : "");
}

class TxnPgbench : public ::testing::TestWithParam<Case> {
protected:
    void SetUp() override {
        const std::string missing = ensurePgbenchTables();
        ASSERT_TRUE(missing.empty()) << missing;
        pgbench_ = findPgbench();
    }

    std::string pgbench_;
};

TEST_P(TxnPgbench, TwoHundredClientsOnAPoolOfTen) {
    const Case& c = GetParam();
    ASSERT_TRUE(clearAppBackends()) << "backends of an earlier test would not go away";

    SluiceProcess sluice;
    if (c.directWrites) ::setenv("SLUICE_NO_IO_URING", "1", 1);  // inherited by the forked Sluice
    const bool started = sluice.start(basicIni(sharedPg(), freePort(),
                                               "pool_mode = " + c.poolMode + "\ndefault_pool_size = " +
                                                   std::to_string(kPoolSize) + "\nmax_client_conn = " +
                                                   std::to_string(kClients + 50) + "\n"));
    ::unsetenv("SLUICE_NO_IO_URING");
    ASSERT_TRUE(started);
    if (c.directWrites) {
        EXPECT_NE(sluice.log().find("io_uring not available (SLUICE_NO_IO_URING is set)"), std::string::npos)
            << sluice.log();
    }

    MaxSampler servers([] { return appBackends(); }, 50ms);
    const std::string command = "env PGPASSWORD=apppass " + pgbench_ + " -h 127.0.0.1 -p " +
                                std::to_string(sluice.port()) + " -U app -n -c " + std::to_string(kClients) +
                                " -j 2 -T 2 -M " + c.protocol + (c.selectOnly ? " -S" : "") + " app";
    RunResult bench = run(command, 60);
    servers.stop();

    const std::string context = "\n$ " + command + "\n" + lastLines(bench.output, 25) + "--- sluice log:\n" +
                                lastLines(sluice.log(), 15);
    EXPECT_EQ(bench.status, 0) << context;
    const long long processed = reported(bench.output, "number of transactions actually processed");
    EXPECT_GT(processed, 0) << context;
    // PostgreSQL 15's pgbench reports failures; older ones abort the run instead (exit status).
    const long long failed = reported(bench.output, "number of failed transactions");
    EXPECT_LE(failed, 0) << context;
    EXPECT_EQ(bench.output.find("aborted"), std::string::npos) << context;
    EXPECT_EQ(bench.output.find("error"), std::string::npos) << context;

    EXPECT_GT(servers.samples(), 10) << "pg_stat_activity was hardly sampled";
    EXPECT_GE(servers.max(), 1) << "no server connection was ever seen: the sampling is broken";
    EXPECT_LE(servers.max(), kPoolSize) << "PostgreSQL saw more backends than default_pool_size" << context;
    EXPECT_TRUE(sluice.isRunning()) << context;
    if (c.protocol == "prepared") {
        // Every client prepares its statements once; each server once per statement it holds.
        PqConn admin(sluice.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
        auto stats = admin.exec("SHOW STATS");
        ASSERT_TRUE(stats.ok) << stats.describe();
        long long clientParses = -1, serverParses = -1, binds = -1;
        for (size_t r = 0; r < stats.rows.size(); ++r) {
            if (stats.value(r, 0) != "app") continue;
            for (size_t col = 0; col < stats.columns.size(); ++col) {
                if (stats.columns[col] == "total_client_parse_count") clientParses = std::stoll(stats.value(r, col));
                if (stats.columns[col] == "total_server_parse_count") serverParses = std::stoll(stats.value(r, col));
                if (stats.columns[col] == "total_bind_count") binds = std::stoll(stats.value(r, col));
            }
        }
        const long long statements = c.selectOnly ? 1 : 7;  // pgbench's tpcb-like script has 7
        EXPECT_GE(clientParses, kClients) << context;
        EXPECT_GE(binds, processed) << context;
        EXPECT_GE(serverParses, 1);
        // Each server connection prepares each statement once, also when it is handed to
        // another worker (its statements go with it); one closed and replaced instead (a
        // give-away, DESIGN §3) counts as a new connection.
        const auto serversOpened = static_cast<long long>(countOf(sluice.log(), "new connection to server"));
        EXPECT_LE(serverParses, serversOpened * statements)
            << "the servers prepared more than once per statement (" << serversOpened << " opened)" << context;
    }
}

INSTANTIATE_TEST_SUITE_P(, TxnPgbench,
                         ::testing::Values(Case{"transaction", "simple", true}, Case{"transaction", "extended", true},
                                           Case{"transaction", "simple", false},
                                           Case{"transaction", "extended", false},
                                           // tpcb-like uses BEGIN, which statement pooling refuses.
                                           Case{"statement", "simple", true}, Case{"statement", "extended", true},
                                           Case{"transaction", "extended", false, true},
                                           // Named prepared statements (max_prepared_statements, default 200).
                                           Case{"transaction", "prepared", true}, Case{"transaction", "prepared", false},
                                           Case{"statement", "prepared", true}),
                         caseName);

}  // namespace
}  // namespace sluice::itest
