// Several workers, one pooler: what a client does must not depend on which worker the kernel
// (SO_REUSEPORT) handed each of its connections to.
#include <gtest/gtest.h>

#include "pgbench_util.h"
#include "sluice_process.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

// psql's Ctrl-C: a CancelRequest on a new connection, which any worker may accept. Eight
// queries, each cancelled: with three workers most cancels land on a worker that does not own
// the client, and every one must still stop its query.
TEST(Workers, EveryCancelReachesItsQueryWhicheverWorkerAcceptsIt) {
    ASSERT_TRUE(clearAppBackends());
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(), "workers = 3\ndefault_pool_size = 10\n")));
    constexpr int kQueries = 8;
    std::vector<PqConn> clients;
    for (int i = 0; i < kQueries; ++i) {
        clients.emplace_back(sluice.conninfo("app", "apppass", "app"));
        ASSERT_TRUE(clients.back().isOk()) << clients.back().error();
        ASSERT_TRUE(clients.back().send("SELECT pg_sleep(20)"));
    }
    PgCounter counter;
    ASSERT_TRUE(counter.waitForActive("SELECT pg_sleep(20)", kQueries)) << lastLines(sluice.log(), 20);
    expectEveryCancelToWork(clients);
    // Keys name their worker in the pid's low byte and keep its sign bit clear.
    for (auto& client : clients) {
        EXPECT_GE(client.backendPid(), 0);
        EXPECT_LT(client.backendPid() & 0xff, 3);
    }
}

// A client queued for a server on one worker, cancelled through another: out of the queue.
TEST(Workers, ACancelForAQueuedClientReachesItsWorker) {
    ASSERT_TRUE(clearAppBackends());
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(),
                                      "workers = 3\ndefault_pool_size = 1\npool_mode = transaction\n")));
    PqConn holder(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(holder.send("SELECT pg_sleep(20)"));
    PgCounter counter;
    ASSERT_TRUE(waitUntil([&] {
        return counter.count("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(20)'") == 1;
    }, 10s));
    // Several waiting clients, so that some sit on other workers than the cancels land on.
    std::vector<PqConn> queued;
    for (int i = 0; i < 4; ++i) {
        queued.emplace_back(sluice.conninfo("app", "apppass", "app"));
        ASSERT_TRUE(queued.back().isOk()) << queued.back().error();
        ASSERT_TRUE(queued.back().send("SELECT 'queued'"));
    }
    for (auto& client : queued) {
        ASSERT_TRUE(client.cancel());
        QueryResult result = client.collect(10s);
        EXPECT_EQ(result.sqlstate, "57014") << result.describe() << lastLines(sluice.log(), 10);
    }
    ASSERT_TRUE(holder.cancel());
    EXPECT_EQ(holder.collect(10s).sqlstate, "57014");
}

// The case: one server for the pool, eight clients spread over two workers. A server
// idle (or just released) on one worker goes to the other worker's longest-waiting client: its
// slot is given over and that worker opens a server with it. No client waits until
// query_wait_timeout, nothing fails, and Sluice never holds more than the pool's one server.
TEST(Workers, AServerOfTheOtherWorkerServesClientsThatWaitHere) {
    const std::string missing = ensurePgbenchTables();
    ASSERT_TRUE(missing.empty()) << missing;
    ASSERT_TRUE(clearAppBackends());
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(),
                                      "workers = 2\npool_mode = transaction\ndefault_pool_size = 1\n"
                                      "query_wait_timeout = 5\n")));
    PqConn console(sluice.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
    MaxSampler servers(
        [&] {
            QueryResult rows = console.exec("SHOW SERVERS");
            return rows.ok ? static_cast<int>(rows.rows.size()) : -1;
        },
        20ms);
    const std::string command = "env PGPASSWORD=apppass " + findPgbench() + " -h 127.0.0.1 -p " +
                                std::to_string(sluice.port()) + " -U app -n -S -c 8 -j 8 -T 6 app";
    RunResult bench = run(command, 60);
    servers.stop();
    const std::string context =
        "\n$ " + command + "\n" + lastLines(bench.output, 20) + "--- sluice log:\n" + lastLines(sluice.log(), 15);
    EXPECT_EQ(bench.status, 0) << context;
    EXPECT_GT(reported(bench.output, "number of transactions actually processed"), 0) << context;
    EXPECT_EQ(reported(bench.output, "number of failed transactions"), 0) << context;
    EXPECT_EQ(bench.output.find("query_wait_timeout"), std::string::npos) << context;
    EXPECT_LE(servers.max(), 1) << "more servers than the pool's one";
    EXPECT_GT(servers.samples(), 0);
    // Both workers' clients were served: the slot went back and forth.
    EXPECT_NE(sluice.log().find("server slot given to a client waiting on another worker"), std::string::npos)
        << context;
}

}  // namespace
}  // namespace sluice::itest
