// PgBouncer's online restart, -R (issue 15): a new process started with -R and the same
// configuration takes the listening sockets (pooler and HTTP) and the clients over from the
// running one through its unix socket; each client moves between two transactions with its
// parameters, cancel key and named prepared statements, and the old process exits once none is
// left. pgbench keeps running through it without an error.
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include <libpq-fe.h>

#include "admin_util.h"
#include "http_util.h"
#include "pgbench_util.h"
#include "sluice_process.h"
#include "tls_certs.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

// The same configuration for both processes: the new one must find the old one's unix socket.
constexpr const char* kTransactionPooling = "pool_mode = transaction\ndefault_pool_size = 5\n";

std::string sharedIni(const SluiceProcess& old, int port, int httpPort, const std::string& extra = kTransactionPooling) {
    return basicIni(sharedPg(), port,
                    "max_client_conn = 200\nhttp_listen_addr = 127.0.0.1\nhttp_listen_port = " +
                        std::to_string(httpPort) + "\nunix_socket_dir = " + old.dir() + "\n" + extra);
}

size_t countOf(const std::string& text, const std::string& what) {
    size_t count = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
    return count;
}

// Transaction pooling: each client moves alone between two transactions, its prepared statements
// with it. Session pooling: each moves with its server (where its prepared statements are).
class TakeoverUnderLoad : public ::testing::TestWithParam<bool> {
protected:
    bool session() const { return GetParam(); }
};

TEST_P(TakeoverUnderLoad, PgbenchRunsThroughAnOnlineRestartWithoutAnError) {
    const std::string missing = ensurePgbenchTables();
    ASSERT_TRUE(missing.empty()) << missing;
    ASSERT_TRUE(clearAppBackends());
    const int port = freePort();
    const int httpPort = freePort();
    SluiceProcess before;
    const std::string ini =
        sharedIni(before, port, httpPort, session() ? "pool_mode = session\ndefault_pool_size = 25\n" : kTransactionPooling);
    ASSERT_TRUE(before.start(ini));

    // -M prepared: every client prepares its statements once, then only binds them, so a client
    // whose names (or server) did not come along would fail at its next transaction.
    const std::string command = "env PGPASSWORD=apppass " + findPgbench() + " -h 127.0.0.1 -p " +
                                std::to_string(port) + " -U app -n -M prepared -c 20 -j 2 -T 12 app";
    RunResult bench;
    std::thread load([&] { bench = run(command, 90); });
    // Every pgbench client is in, and transactions (with prepared statements) have run in the
    // old process before it goes.
    EXPECT_TRUE(waitUntil([&] { return rowsForDatabase(before, "SHOW CLIENTS") == 20; }, 15s))
        << lastLines(before.log(), 10);
    ASSERT_TRUE(waitUntil([&] { return statsValue(before, "total_xact_count") > 100; }, 15s));

    SluiceProcess after;
    ASSERT_TRUE(after.start(ini, {"-R"})) << lastLines(after.log(), 20);
    auto code = before.waitExit(30s);
    ASSERT_TRUE(code.has_value()) << "the old process did not hand everything over\n" << lastLines(before.log(), 20);
    EXPECT_EQ(*code, 0) << lastLines(before.log(), 20);
    EXPECT_NE(before.log().find("TAKEOVER: 20 client(s) handed over to the new process"), std::string::npos)
        << lastLines(before.log(), 20);
    EXPECT_TRUE(waitUntil([&] { return after.log().find("-R: takeover complete, 20 client(s)") != std::string::npos; },
                          10s))
        << lastLines(after.log(), 20);

    // The new process serves: on the TCP port, on the unix socket it took over, and over HTTP.
    PqConn fresh(after.conninfo("app", "apppass", "app"));
    EXPECT_EQ(fresh.exec("SELECT 'served'").value(), "served") << fresh.error() << lastLines(after.log(), 10);
    PqConn overUnix("host=" + before.dir() + " port=" + std::to_string(port) + " user=pgbouncer dbname=pgbouncer");
    ASSERT_TRUE(overUnix.isOk()) << overUnix.error() << lastLines(after.log(), 20);
    QueryResult version = overUnix.exec("SHOW VERSION");
    EXPECT_TRUE(version.ok) << version.error;
    EXPECT_EQ(httpGet(httpPort, "/health").status, 200);

    load.join();
    const std::string context = "\n$ " + command + "\n" + lastLines(bench.output, 20) + "--- old process:\n" +
                                lastLines(before.log(), 10) + "--- new process:\n" + lastLines(after.log(), 10);
    EXPECT_EQ(bench.status, 0) << context;
    EXPECT_GT(reported(bench.output, "number of transactions actually processed"), 0) << context;
    EXPECT_EQ(reported(bench.output, "number of failed transactions"), 0) << context;
    EXPECT_EQ(bench.output.find("aborted"), std::string::npos) << context;
    if (session()) {
        // Every session came over, each with the server it had: the new process logged in only the
        // fresh client's, and one for each session that had not been given a server yet (a loaded
        // machine can take over before pgbench's first query of every client).
        EXPECT_EQ(countOf(after.log(), "taken over from the previous process"), 20u) << lastLines(after.log(), 20);
        const size_t withServer = countOf(after.log(), "taken over from the previous process with its server");
        EXPECT_GE(withServer, 1u) << lastLines(after.log(), 20);
        EXPECT_EQ(countOf(after.log(), "new connection to server"), 1u + (20u - withServer))
            << lastLines(after.log(), 20);
    } else {
        // The clients ran their transactions in the new process too (its servers logged in for them).
        EXPECT_GE(countOf(after.log(), "new connection to server"), 1u) << lastLines(after.log(), 20);
    }
}

INSTANTIATE_TEST_SUITE_P(Takeover, TakeoverUnderLoad, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                             return std::string(info.param ? "SessionPooling" : "TransactionPooling");
                         });

TEST(Takeover, AClientKeepsItsSettingsPreparedStatementsAndCancelKey) {
    const int port = freePort();
    SluiceProcess before;
    const std::string ini = sharedIni(before, port, freePort());
    ASSERT_TRUE(before.start(ini));
    PqConn client(before.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(client.isOk()) << client.error();
    ASSERT_TRUE(client.exec("SET TimeZone = 'Asia/Tokyo'").ok);
    PGresult* prepared = PQprepare(client.raw(), "plus_one", "SELECT $1::int + 1", 0, nullptr);
    ASSERT_EQ(PQresultStatus(prepared), PGRES_COMMAND_OK) << PQresultErrorMessage(prepared);
    PQclear(prepared);

    SluiceProcess after;
    ASSERT_TRUE(after.start(ini, {"-R"})) << lastLines(after.log(), 20);
    auto code = before.waitExit(15s);
    ASSERT_TRUE(code.has_value()) << lastLines(before.log(), 20);
    EXPECT_NE(before.log().find("TAKEOVER: 1 client(s) handed over"), std::string::npos) << lastLines(before.log(), 20);

    // Same connection, now served by the new process, which lists its socket (SHOW FDS).
    EXPECT_EQ(client.exec("SHOW TimeZone").value(), "Asia/Tokyo");
    {
        PqConn console(after.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
        QueryResult fds = console.exec("SHOW FDS");
        ASSERT_TRUE(fds.ok) << fds.error;
        size_t timezone = 0, database = 0;
        for (size_t col = 0; col < fds.columns.size(); ++col) {
            if (fds.columns[col] == "timezone") timezone = col;
            if (fds.columns[col] == "database") database = col;
        }
        bool listed = false;
        for (size_t row = 0; row < fds.rows.size(); ++row)
            listed |= fds.value(row, database) == "app" && fds.value(row, timezone) == "Asia/Tokyo";
        EXPECT_TRUE(listed) << fds.describe();
    }
    const char* values[] = {"41"};
    PGresult* executed = PQexecPrepared(client.raw(), "plus_one", 1, values, nullptr, nullptr, 0);
    EXPECT_EQ(PQresultStatus(executed), PGRES_TUPLES_OK) << PQresultErrorMessage(executed);
    if (PQresultStatus(executed) == PGRES_TUPLES_OK) {
        EXPECT_STREQ(PQgetvalue(executed, 0, 0), "42");
    }
    PQclear(executed);
    ASSERT_TRUE(client.send("SELECT pg_sleep(30)"));
    // A cancel that reaches PostgreSQL before the query starts is lost; wait until it runs.
    ASSERT_TRUE(waitUntil([&] {
        return sharedPg().query1("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = "
                                 "'SELECT pg_sleep(30)'") == "1";
    }, 10s));
    ASSERT_TRUE(client.cancel()) << client.error();
    QueryResult canceled = client.collect(10s);
    EXPECT_EQ(canceled.sqlstate, "57014") << canceled.describe();
    EXPECT_EQ(client.exec("SELECT 'still here'").value(), "still here");
    client.close();  // before the new process is stopped, which waits for its clients
}

// Session pooling: the client's server goes with it, so the session goes on exactly where it was
// (same backend, its temp table, its SETs) while the old process exits.
TEST(Takeover, ASessionMovesWithItsServer) {
    const int port = freePort();
    SluiceProcess before;
    const std::string ini = basicIni(sharedPg(), port, "pool_mode = session\nunix_socket_dir = " + before.dir() + "\n");
    ASSERT_TRUE(before.start(ini));
    PqConn session(before.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(session.exec("CREATE TEMP TABLE mine AS SELECT 7 AS x").ok);
    ASSERT_TRUE(session.exec("SET work_mem = '7MB'").ok);
    const std::string backend = session.exec("SELECT pg_backend_pid()").value();
    PqConn unused(before.conninfo("app", "apppass", "app"));  // logged in, never had a server
    ASSERT_TRUE(unused.isOk()) << unused.error();

    SluiceProcess after;
    ASSERT_TRUE(after.start(ini, {"-R"})) << lastLines(after.log(), 20);
    auto code = before.waitExit(15s);
    ASSERT_TRUE(code.has_value()) << lastLines(before.log(), 20);
    EXPECT_EQ(*code, 0);
    EXPECT_NE(before.log().find("TAKEOVER: 2 client(s) handed over"), std::string::npos) << lastLines(before.log(), 20);
    EXPECT_EQ(session.exec("SELECT x FROM mine").value(), "7");
    EXPECT_EQ(session.exec("SHOW work_mem").value(), "7MB");
    EXPECT_EQ(session.exec("SELECT pg_backend_pid()").value(), backend);
    EXPECT_EQ(unused.exec("SELECT 'first query'").value(), "first query");
    // The new process counts the session's server as its own (SHOW POOLS sv_active).
    PqConn console(after.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
    QueryResult servers = console.exec("SHOW SERVERS");
    ASSERT_TRUE(servers.ok) << servers.error;
    EXPECT_EQ(servers.rows.size(), 2u);  // the session's, and the one `unused` got
    session.close();
    unused.close();
}

// A client on TLS cannot leave (its session is in the old process's memory): it stays there,
// served to its end, and the old process exits after it.
TEST(Takeover, ATlsClientStaysWithTheOldProcessUntilItLeaves) {
    const int port = freePort();
    SluiceProcess before;
    const TestCertificates certs = makeCertificates(before.dir(), "app");
    const std::string ini = sharedIni(before, port, freePort(),
                                      "client_tls_sslmode = allow\nclient_tls_key_file = " + certs.serverKey +
                                          "\nclient_tls_cert_file = " + certs.serverCert + "\n");
    ASSERT_TRUE(before.start(ini));
    PqConn secure(before.conninfo("app", "apppass", "app") + " sslmode=require");
    ASSERT_TRUE(secure.isOk()) << secure.error();
    PqConn plain(before.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(plain.exec("SELECT 1").ok);

    SluiceProcess after;
    ASSERT_TRUE(after.start(ini, {"-R"})) << lastLines(after.log(), 20);
    ASSERT_TRUE(waitUntil([&] { return after.log().find("taken over from the previous process") != std::string::npos; },
                          10s))
        << lastLines(after.log(), 20);
    EXPECT_EQ(plain.exec("SELECT 'moved'").value(), "moved");
    EXPECT_EQ(secure.exec("SELECT 'still served'").value(), "still served");
    EXPECT_FALSE(before.waitExit(0ms).has_value()) << "the old process left while its TLS client was there";
    secure.close();
    auto code = before.waitExit(15s);
    ASSERT_TRUE(code.has_value()) << lastLines(before.log(), 20);
    EXPECT_NE(before.log().find("TAKEOVER: 1 client(s) handed over"), std::string::npos) << lastLines(before.log(), 20);
    plain.close();
}

// The new process dies half-way (here: SIGKILL while a client is still inside a transaction in the
// old one): the old process listens again on the sockets it kept and serves on. The clients it
// had handed over went with the dead process; none of the others notices anything.
TEST(Takeover, IfTheNewProcessDiesTheOldOneServesOn) {
    const int port = freePort();
    const int httpPort = freePort();
    SluiceProcess before;
    const std::string ini = sharedIni(before, port, httpPort);
    ASSERT_TRUE(before.start(ini));
    PqConn busy(before.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(busy.exec("BEGIN").ok);
    ASSERT_TRUE(busy.exec("SELECT 1").ok);
    PqConn resting(before.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(resting.exec("SELECT 1").ok);

    SluiceProcess after;
    ASSERT_TRUE(after.start(ini, {"-R"})) << lastLines(after.log(), 20);
    ASSERT_TRUE(waitUntil([&] { return after.log().find("taken over from the previous process") != std::string::npos; },
                          10s));
    after.stop(0ms, SIGKILL);
    ASSERT_TRUE(waitUntil([&] { return before.log().find("TAKEOVER failed after 1 client(s)") != std::string::npos; },
                          10s))
        << lastLines(before.log(), 20);
    EXPECT_EQ(busy.exec("SELECT 'inside'").value(), "inside");
    EXPECT_TRUE(busy.exec("COMMIT").ok);
    EXPECT_TRUE(waitUntil([&] {
        PqConn fresh(before.conninfo("app", "apppass", "app"));
        return fresh.exec("SELECT 'served again'").value() == "served again";
    }, 10s)) << lastLines(before.log(), 20);
    EXPECT_EQ(httpGet(httpPort, "/health").status, 200);
    EXPECT_FALSE(before.waitExit(0ms).has_value());
    busy.close();
    resting.close();
}

TEST(Takeover, WithoutARunningProcessTheStartIsANormalOne) {
    const int port = freePort();
    SluiceProcess alone;
    ASSERT_TRUE(alone.start(sharedIni(alone, port, freePort()), {"-R"})) << lastLines(alone.log(), 10);
    EXPECT_NE(alone.log().find("no running process answers on"), std::string::npos) << lastLines(alone.log(), 10);
    PqConn conn(alone.conninfo("app", "apppass", "app"));
    EXPECT_EQ(conn.exec("SELECT 1").value(), "1");
}

TEST(Takeover, OnlyThePoolersOwnUnixUserMayAskForIt) {
    const int port = freePort();
    SluiceProcess running;
    ASSERT_TRUE(running.start(sharedIni(running, port, freePort())));
    // An admin over TCP is refused and the pooler goes on as before.
    PqConn admin(running.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
    QueryResult refused = admin.exec("TAKEOVER");
    EXPECT_FALSE(refused.ok);
    EXPECT_EQ(refused.sqlstate, "42501") << refused.error;
    PqConn app(running.conninfo("app", "apppass", "app"));
    EXPECT_EQ(app.exec("SELECT 1").value(), "1");
    EXPECT_EQ(admin.exec("SHOW VERSION").ok, true);
}

}  // namespace
}  // namespace sluice::itest
