// Chaos (issue 16): PostgreSQL crashing under load behind Sluice. What was in flight fails with
// an error, nothing acknowledged is lost, no client is disconnected by the pooler, an idle client
// notices nothing, and the pool refills to its size, no more.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

TEST(Chaos, APostgresCrashUnderLoadCostsOnlyWhatWasInFlight) {
    // A process crash loses no acknowledged commit once it is in the kernel (fsync stays off).
    PgServerOptions options;
    options.extraConf = {"synchronous_commit = on"};
    PgServer pg;
    pg.start(options);
    pg.exec("CREATE TABLE chaos(client int, seq int, PRIMARY KEY (client, seq)); ALTER TABLE chaos OWNER TO app",
            "app");
    SluiceProcess sluice;
    constexpr int kPoolSize = 4;
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(),
                                      "workers = 2\npool_mode = transaction\ndefault_pool_size = " +
                                          std::to_string(kPoolSize) + "\nserver_login_retry = 0.2\n",
                                      "app = host=127.0.0.1 port=" + std::to_string(pg.port()) + " dbname=app\n")));
    PqConn idle(sluice.conninfo("app", "apppass", "app"));
    ASSERT_EQ(idle.exec("SELECT 1").value(), "1");

    constexpr int kWriters = 8;
    std::atomic<bool> stop{false};
    std::atomic<int> acknowledged{0};
    std::mutex mutex;
    std::vector<std::set<int>> acked(kWriters);
    std::vector<std::string> errors;
    int disconnected = 0;
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
        writers.emplace_back([&, w] {
            PqConn conn(sluice.conninfo("app", "apppass", "app"));
            for (int seq = 0; !stop; ++seq) {
                QueryResult result =
                    conn.exec("INSERT INTO chaos VALUES (" + std::to_string(w) + ", " + std::to_string(seq) + ")", 10s);
                std::lock_guard lock(mutex);
                if (result.ok) {
                    acked[w].insert(seq);
                    ++acknowledged;
                } else {
                    errors.push_back(result.describe());
                    if (!conn.isOk()) {  // the pooler must not do this; count it, go on
                        ++disconnected;
                        conn.connect(sluice.conninfo("app", "apppass", "app"));
                    }
                }
            }
        });
    }
    auto context = [&] { return "\n--- sluice log:\n" + lastLines(sluice.log(), 20); };
    ASSERT_TRUE(waitUntil([&] { return acknowledged >= 200; }, 20s)) << context();
    pg.stopImmediate();  // every backend gone at once, as in a crash
    pg.restart();        // crash recovery
    const int before = acknowledged;
    EXPECT_TRUE(waitUntil([&] { return acknowledged >= before + 200; }, 30s)) << "writes resumed" << context();
    stop = true;
    for (auto& thread : writers) thread.join();

    EXPECT_EQ(disconnected, 0) << "the pooler closed a client; first error: "
                               << (errors.empty() ? "" : errors.front()) << context();
    for (const auto& error : errors)
        EXPECT_EQ(error.substr(0, 2), "08") << "an in-flight failure is a connection error: " << error;
    // Nothing acknowledged is lost.
    PqConn direct(pg.socketConninfo("app"));
    for (int w = 0; w < kWriters; ++w) {
        std::string seqs;
        for (int seq : acked[w]) {
            if (!seqs.empty()) seqs += ',';
            seqs += std::to_string(seq);
        }
        QueryResult stored = direct.exec("SELECT count(*) FROM chaos WHERE client = " + std::to_string(w) +
                                         " AND seq = ANY('{" + seqs + "}'::int[])");
        EXPECT_EQ(stored.value(), std::to_string(acked[w].size())) << "writer " << w;
    }
    // The idle client noticed nothing.
    QueryResult after = idle.exec("SELECT 2");
    EXPECT_TRUE(after.ok) << after.describe();
    // The pool refilled to its size, no more.
    PqConn console(sluice.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
    QueryResult servers = console.exec("SHOW SERVERS");
    ASSERT_TRUE(servers.ok);
    EXPECT_LE(servers.rows.size(), static_cast<size_t>(kPoolSize));
    EXPECT_LE(pg.backendCount("app", "app"), kPoolSize);
}

// A backend that stops answering mid-result (SIGSTOP): query_timeout gives its client the
// configured error in time, whatever the backend does; the other pools, and the same pool's
// other clients, go on.
TEST(Chaos, ABackendThatStopsMidResultCostsOnlyItsClient) {
    PgServer pg;
    pg.start();
    SluiceProcess sluice;
    const std::string server = "host=127.0.0.1 port=" + std::to_string(pg.port());
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(), "pool_mode = transaction\nquery_timeout = 2\n",
                                      "app = " + server + " dbname=app\nother = " + server + " dbname=postgres\n")));
    PqConn stuck(sluice.conninfo("app", "apppass", "app"));
    const std::string query = "SELECT repeat('x', 1000) FROM generate_series(1, 200000)";
    ASSERT_TRUE(stuck.send(query));
    PqConn direct(pg.socketConninfo("postgres"));
    QueryResult backend;
    ASSERT_TRUE(waitUntil([&] {
        backend = direct.exec("SELECT pid FROM pg_stat_activity WHERE query = " + sqlLiteral(query));
        return backend.ok && !backend.rows.empty();
    }, 10s));
    const pid_t pid = static_cast<pid_t>(std::stoi(backend.value()));
    ASSERT_EQ(::kill(pid, SIGSTOP), 0);
    struct Resume {  // whatever happens, the backend runs again at the end
        pid_t pid;
        ~Resume() { ::kill(pid, SIGCONT); }
    } resume{pid};

    PqConn other(sluice.conninfo("app", "apppass", "other"));
    EXPECT_EQ(other.exec("SELECT 'other pool'", 5s).value(), "other pool");
    PqConn sameDatabase(sluice.conninfo("app", "apppass", "app"));
    EXPECT_EQ(sameDatabase.exec("SELECT 'same pool'", 5s).value(), "same pool");
    QueryResult timedOut = stuck.collect(15s);
    EXPECT_FALSE(timedOut.ok);
    // The client hears "query timeout" — unless the timeout caught it in the middle of a row
    // passed on to it, where no message can be put: then its connection is simply closed.
    // Either way the pooler says why in its log.
    const bool toldWhy = timedOut.error.find("query timeout") != std::string::npos;
    const bool cutMidRow = timedOut.error.find("server closed the connection unexpectedly") != std::string::npos;
    EXPECT_TRUE(toldWhy || cutMidRow) << timedOut.describe();
    EXPECT_TRUE(waitUntil([&] { return sluice.log().find("closing because: query timeout") != std::string::npos; }, 5s))
        << lastLines(sluice.log(), 10);
}

}  // namespace
}  // namespace sluice::itest
