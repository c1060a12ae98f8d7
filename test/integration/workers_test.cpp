// Several workers, one pooler: what a client does must not depend on which worker the kernel
// (SO_REUSEPORT) handed each of its connections to.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <sys/socket.h>

#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "admin_util.h"
#include "conn/cancel_key.h"
#include "http_util.h"
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

// Clients of database app, `perWorker` on each of two workers. The worker that owns a client is
// the low byte of the process id Sluice gave it (conn/cancel_key.h); the kernel spreads
// connections over the workers' sockets by a hash of their ports, so a few more are opened (and
// closed) until both workers have theirs.
std::vector<PqConn> clientsOnBothWorkers(const SluiceProcess& sluice, int perWorker) {
    std::vector<PqConn> chosen;
    int onWorker[2] = {0, 0};
    for (int attempt = 0; attempt < 400 && (onWorker[0] < perWorker || onWorker[1] < perWorker); ++attempt) {
        PqConn conn(sluice.conninfo("app", "apppass", "app"), 15s);
        if (!conn.isOk()) continue;
        const int worker = conn::cancelKeyWorker(PQbackendPID(conn.raw()));
        if (worker < 2 && onWorker[worker] < perWorker) {
            ++onWorker[worker];
            chosen.push_back(std::move(conn));
        }
    }
    return chosen;
}

// Every client runs `sql` (prepared once as "q" when `prepared`) `rounds` times, all clients at
// once, each on a thread of its own: the distinct answers, and the errors.
struct Outcome {
    std::set<std::string> answers;
    std::vector<std::string> errors;
};
Outcome runTogether(std::vector<PqConn>& clients, const std::string& sql, int rounds, bool prepared) {
    Outcome outcome;
    std::mutex mutex;
    auto note = [&](std::set<std::string>* answers, std::vector<std::string>* errors, const std::string& text) {
        std::lock_guard lock(mutex);
        if (answers) answers->insert(text);
        else errors->push_back(text);
    };
    std::vector<std::thread> threads;
    for (PqConn& client : clients) {
        threads.emplace_back([&, conn = client.raw()] {
            if (prepared) {
                PGresult* done = PQprepare(conn, "q", sql.c_str(), 0, nullptr);
                const bool ok = PQresultStatus(done) == PGRES_COMMAND_OK;
                if (!ok) note(nullptr, &outcome.errors, PQresultErrorMessage(done));
                PQclear(done);
                if (!ok) return;
            }
            for (int round = 0; round < rounds; ++round) {
                PGresult* result = prepared ? PQexecPrepared(conn, "q", 0, nullptr, nullptr, nullptr, 0)
                                            : PQexec(conn, sql.c_str());
                if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1)
                    note(&outcome.answers, nullptr, PQgetvalue(result, 0, 0));
                else
                    note(nullptr, &outcome.errors, PQresultErrorMessage(result));
                PQclear(result);
            }
        });
    }
    for (auto& thread : threads) thread.join();
    return outcome;
}

// The figure /metrics gives for `name` (a counter of the process), -1 when it is missing.
long long metric(int httpPort, const std::string& name) {
    const std::string body = httpGet(httpPort, "/metrics").body;
    const size_t at = body.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stoll(body.substr(at + name.size() + 2));
}

// The case: one server for the pool, eight clients spread over two workers. A server
// idle (or just released) on one worker goes to the other worker's longest-waiting client,
// handed over still logged in. No client waits until query_wait_timeout, nothing fails, and
// PostgreSQL sees one backend, never more at once, for the whole run.
TEST(Workers, AServerOfTheOtherWorkerServesClientsThatWaitHere) {
    ASSERT_TRUE(clearAppBackends());
    SluiceProcess sluice;
    const int httpPort = freePort();
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(),
                                      "workers = 2\npool_mode = transaction\ndefault_pool_size = 1\n"
                                      "query_wait_timeout = 5\nhttp_listen_port = " +
                                          std::to_string(httpPort) + "\n")));
    std::vector<PqConn> clients = clientsOnBothWorkers(sluice, 4);
    ASSERT_EQ(clients.size(), 8u) << "the kernel never gave one of the workers four connections";
    MaxSampler servers([] { return appBackends(); }, 20ms);
    const Outcome outcome = runTogether(clients, "SELECT pg_backend_pid()", 300, false);
    servers.stop();
    EXPECT_TRUE(outcome.errors.empty()) << outcome.errors.front() << "\n" << lastLines(sluice.log(), 15);
    EXPECT_EQ(outcome.answers.size(), 1u) << "one backend served both workers' clients";
    EXPECT_LE(servers.max(), 1) << "more backends than the pool's one server";
    EXPECT_GT(servers.samples(), 0);
    EXPECT_GT(metric(httpPort, "sluice_server_handoffs_total"), 0);
}

// The same when the bound is max_db_connections or max_user_connections rather than the pool's
// size: a client waiting on one worker asks the others, and gets the pool's server idle there
// (it waited forever, the pool's own server idle on the other worker).
TEST(Workers, AServerOfTheOtherWorkerServesClientsWaitingUnderADatabaseOrUserLimit) {
    for (const char* limit : {"max_db_connections = 1\n", "max_user_connections = 1\n"}) {
        SCOPED_TRACE(limit);
        ASSERT_TRUE(clearAppBackends());
        SluiceProcess sluice;
        ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(),
                                          std::string("workers = 2\npool_mode = transaction\ndefault_pool_size = 5\n"
                                                      "query_wait_timeout = 5\n") +
                                              limit)));
        std::vector<PqConn> clients = clientsOnBothWorkers(sluice, 2);
        ASSERT_EQ(clients.size(), 4u) << "the kernel never gave one of the workers two connections";
        const Outcome outcome = runTogether(clients, "SELECT pg_backend_pid()", 50, false);
        EXPECT_TRUE(outcome.errors.empty()) << outcome.errors.front() << "\n" << lastLines(sluice.log(), 15);
        EXPECT_EQ(outcome.answers.size(), 1u) << "one backend served both workers' clients";
    }
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
    std::vector<PqConn> clients = clientsOnBothWorkers(sluice, 4);
    ASSERT_EQ(clients.size(), 8u) << "the kernel never gave one of the workers four connections";
    const Outcome outcome = runTogether(
        clients, "SELECT pg_backend_pid()::text || ' ' || ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        100, true);
    EXPECT_TRUE(outcome.errors.empty()) << outcome.errors.front() << "\n" << lastLines(sluice.log(), 15);
    ASSERT_EQ(outcome.answers.size(), 1u) << "one backend, over TLS, for every client on both workers";
    EXPECT_EQ(outcome.answers.begin()->substr(outcome.answers.begin()->find(' ') + 1), "true");
    EXPECT_GT(metric(httpPort, "sluice_server_handoffs_total"), 0);
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

// The console acts on every worker's clients, whichever worker its own connection is on: PAUSE
// holds the queries of clients of both workers until RESUME, and KILL_CLIENT ends a client of
// either.
TEST(Workers, ConsoleCommandsActOnTheClientsOfEveryWorker) {
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(
        basicIni(sharedPg(), freePort(), "workers = 2\npool_mode = transaction\nquery_wait_timeout = 30\n")));
    std::vector<PqConn> clients = clientsOnBothWorkers(sluice, 2);
    ASSERT_EQ(clients.size(), 4u);
    PqConn console(sluice.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
    ASSERT_TRUE(console.isOk()) << console.error();

    ASSERT_TRUE(console.exec("PAUSE").ok);
    for (PqConn& client : clients) ASSERT_TRUE(client.send("SELECT 'after the pause'"));
    EXPECT_TRUE(waitUntil([&] { return poolValue(sluice, "cl_waiting") == 4; }, 10s))
        << "every worker's clients wait while paused: " << poolValue(sluice, "cl_waiting");
    ASSERT_TRUE(console.exec("RESUME").ok);
    for (PqConn& client : clients) EXPECT_EQ(client.collect(10s).value(), "after the pause");

    // KILL_CLIENT of the first client on each worker, found in SHOW CLIENTS by its port.
    auto idOf = [&](PqConn& client) {
        sockaddr_storage local{};
        socklen_t length = sizeof local;
        getsockname(PQsocket(client.raw()), reinterpret_cast<sockaddr*>(&local), &length);
        const std::string port = std::to_string(ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port));
        QueryResult rows = console.exec("SHOW CLIENTS");
        size_t idColumn = rows.columns.size(), portColumn = rows.columns.size();
        for (size_t c = 0; c < rows.columns.size(); ++c) {
            if (rows.columns[c] == "id") idColumn = c;
            if (rows.columns[c] == "port") portColumn = c;
        }
        for (const auto& row : rows.rows)
            if (portColumn < row.size() && row[portColumn] == port && idColumn < row.size()) return row[idColumn];
        return std::string();
    };
    std::set<int> killedOn;
    std::vector<bool> killed(clients.size(), false);
    for (size_t i = 0; i < clients.size(); ++i) {
        const int worker = conn::cancelKeyWorker(PQbackendPID(clients[i].raw()));
        if (killedOn.count(worker)) continue;
        const std::string id = idOf(clients[i]);
        ASSERT_FALSE(id.empty()) << "client " << i << " not in SHOW CLIENTS";
        EXPECT_EQ(console.exec("KILL_CLIENT " + id).commandTag, "KILL_CLIENT");
        killedOn.insert(worker);
        killed[i] = true;
    }
    ASSERT_EQ(killedOn.size(), 2u);
    for (size_t i = 0; i < clients.size(); ++i)
        EXPECT_EQ(clients[i].exec("SELECT 'alive'", 5s).ok, !killed[i]) << "client " << i;
}

}  // namespace
}  // namespace sluice::itest
