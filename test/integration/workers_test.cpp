// Several workers, one pooler: what a client does must not depend on which worker the kernel
// (SO_REUSEPORT) handed each of its connections to.
#include <gtest/gtest.h>

#include <libpq-fe.h>

#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "http_util.h"
#include "pgbench_util.h"
#include "sluice_process.h"
#include "tls_certs.h"
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
// idle (or just released) on one worker goes to the other worker's longest-waiting client,
// handed over still logged in. No client waits until query_wait_timeout, nothing fails, and
// PostgreSQL sees one backend for the whole run.
TEST(Workers, AServerOfTheOtherWorkerServesClientsThatWaitHere) {
    const std::string missing = ensurePgbenchTables();
    ASSERT_TRUE(missing.empty()) << missing;
    ASSERT_TRUE(clearAppBackends());
    SluiceProcess sluice;
    const int httpPort = freePort();
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(),
                                      "workers = 2\npool_mode = transaction\ndefault_pool_size = 1\n"
                                      "query_wait_timeout = 5\nhttp_listen_port = " +
                                          std::to_string(httpPort) + "\n")));
    // What PostgreSQL sees: how many backends of the pool at once, and which ones over the run.
    PqConn direct(sharedPg().socketConninfo("postgres"));
    std::set<std::string> backends;
    MaxSampler servers(
        [&] {
            QueryResult rows = direct.exec(
                "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND datname = 'app' AND "
                "usename = 'app'");
            if (!rows.ok) return -1;
            for (const auto& row : rows.rows) backends.insert(row[0]);
            return static_cast<int>(rows.rows.size());
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
    EXPECT_LE(servers.max(), 1) << "more backends than the pool's one server";
    EXPECT_GT(servers.samples(), 0);
    // Both workers' clients were served by the one server, handed back and forth still logged
    // in: one backend for the whole run, no server login after the first.
    EXPECT_EQ(backends.size(), 1u) << context;
    const std::string metrics = httpGet(httpPort, "/metrics").body;
    EXPECT_EQ(metrics.find("sluice_server_handoffs_total 0\n"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("sluice_server_handoffs_total "), std::string::npos) << metrics;
}

// A server handed over goes with everything the pooler knows of it: its TLS session (the
// connection to PostgreSQL is encrypted, and stays so on the other worker) and the statements
// prepared on it (a client on the other worker uses them without another Parse there).
TEST(Workers, AServerIsHandedOverWithItsTlsSessionAndPreparedStatements) {
    SluiceProcess sluice;
    const TestCertificates certs = makeCertificates(sluice.dir(), "app");
    PgServer pg;
    PgServerOptions options;
    options.tlsCertFile = certs.serverCert;
    options.tlsKeyFile = certs.serverKey;
    pg.start(options);
    const int httpPort = freePort();
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(),
                                      "workers = 2\npool_mode = transaction\ndefault_pool_size = 1\n"
                                      "query_wait_timeout = 10\nserver_tls_sslmode = require\nhttp_listen_port = " +
                                          std::to_string(httpPort) + "\n",
                                      "app = host=127.0.0.1 port=" + std::to_string(pg.port()) + " dbname=app\n")));
    constexpr int kClients = 8, kRounds = 100;
    std::mutex mutex;
    std::set<std::string> answers;  // "pid ssl" of the backend behind each execution
    std::vector<std::string> errors;
    std::vector<std::thread> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.emplace_back([&] {
            PqConn conn(sluice.conninfo("app", "apppass", "app"), 15s);
            auto fail = [&](const std::string& what) {
                std::lock_guard lock(mutex);
                errors.push_back(what);
            };
            if (!conn.isOk()) return fail(conn.error());
            PGresult* prepared = PQprepare(conn.raw(), "who",
                                           "SELECT pg_backend_pid()::text || ' ' || ssl::text FROM pg_stat_ssl "
                                           "WHERE pid = pg_backend_pid()",
                                           0, nullptr);
            const bool ok = PQresultStatus(prepared) == PGRES_COMMAND_OK;
            if (!ok) fail(PQresultErrorMessage(prepared));
            PQclear(prepared);
            for (int round = 0; ok && round < kRounds; ++round) {
                PGresult* result = PQexecPrepared(conn.raw(), "who", 0, nullptr, nullptr, nullptr, 0);
                if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1) {
                    std::lock_guard lock(mutex);
                    answers.insert(PQgetvalue(result, 0, 0));
                } else {
                    fail(PQresultErrorMessage(result));
                }
                PQclear(result);
            }
        });
    }
    for (auto& client : clients) client.join();
    EXPECT_TRUE(errors.empty()) << errors.front() << "\n" << lastLines(sluice.log(), 15);
    ASSERT_EQ(answers.size(), 1u) << "one backend, over TLS, for every client on both workers";
    EXPECT_EQ(answers.begin()->substr(answers.begin()->find(' ') + 1), "true");
    const std::string metrics = httpGet(httpPort, "/metrics").body;
    EXPECT_EQ(metrics.find("sluice_server_handoffs_total 0\n"), std::string::npos) << metrics;
    // The statement was prepared on the one server once, whichever worker's client came first.
    PqConn console(sluice.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
    QueryResult stats = console.exec("SHOW STATS");
    ASSERT_TRUE(stats.ok) << stats.describe();
    std::string serverParses;
    for (size_t r = 0; r < stats.rows.size(); ++r)
        for (size_t c = 0; c < stats.columns.size(); ++c)
            if (stats.value(r, 0) == "app" && stats.columns[c] == "total_server_parse_count")
                serverParses = stats.value(r, c);
    EXPECT_EQ(serverParses, "1");
}

}  // namespace
}  // namespace sluice::itest
