// A server that cannot be reached or refuses the pooler's login, and then is fine again (issue 13
// item 2, as PgBouncer 1.25): clients that are waiting stay queued while the connection is tried
// again every server_login_retry, and an error cached from a failed login is given to new clients
// only within server_login_retry, never after the server has been mended — whether PostgreSQL
// was restarted or its side of the login fixed, with no reload of the pooler.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

#include "admin_util.h"
#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

using Clock = std::chrono::steady_clock;

// The answer to SELECT 1 through `conninfo`, or the error that stopped it.
std::string selectOne(const std::string& conninfo) {
    PqConn conn(conninfo, 60s);
    if (!conn.isOk()) return "login failed: " + conn.error();
    QueryResult result = conn.exec("SELECT 1");
    return result.ok ? result.value() : "query failed: " + result.describe();
}

class ServerLoginRetry : public ::testing::Test {
protected:
    void SetUp() override {
        pg_.start();
        ASSERT_TRUE(sluice_.start(basicIni(pg_, freePort(),
                                           "server_login_retry = 1\nquery_wait_timeout = 60\n",
                                           "app = host=" + pg_.host() + " port=" + std::to_string(pg_.port()) +
                                               " dbname=app\n")));
    }
    std::string appConninfo() const { return sluice_.conninfo("app", "apppass", "app"); }

    PgServer pg_;
    SluiceProcess sluice_;
};

TEST_F(ServerLoginRetry, ClientsWaitWhilePostgresIsDownAndAreServedOnceItIsBack) {
    ASSERT_EQ(selectOne(appConninfo()), "1");  // the pool has known its server
    pg_.stop();
    const auto stopped = Clock::now();
    // Idle servers are gone with PostgreSQL: the next clients find no server, and every connect
    // is refused until it is back.
    std::future<std::string> first = std::async(std::launch::async, [&] { return selectOne(appConninfo()); });
    std::future<std::string> second = std::async(std::launch::async, [&] { return selectOne(appConninfo()); });
    // Tried again and again (each failure logged), the clients still waiting.
    EXPECT_TRUE(waitUntil([&] { return countOf(sluice_.log(), "connect failed") >= 3; }, 20s)) << sluice_.log();
    EXPECT_EQ(first.wait_for(0s), std::future_status::timeout) << first.get();
    EXPECT_EQ(second.wait_for(0s), std::future_status::timeout) << second.get();
    // ...at server_login_retry's pace, not in a loop: at most one try per waiting client per
    // second, give or take one round.
    const double seconds = std::chrono::duration<double>(Clock::now() - stopped).count();
    EXPECT_LE(countOf(sluice_.log(), "connect failed"), static_cast<size_t>(2 * (seconds + 2)))
        << "after " << seconds << " s:\n" << lastLines(sluice_.log(), 10);
    pg_.restart();
    EXPECT_EQ(first.get(), "1") << lastLines(sluice_.log(), 20);
    EXPECT_EQ(second.get(), "1") << lastLines(sluice_.log(), 20);
    // And a new client is not told about the outage either.
    EXPECT_EQ(selectOne(appConninfo()), "1");
}

TEST_F(ServerLoginRetry, ALoginErrorIsNotGivenToNewClientsOnceTheServerAcceptsAgain) {
    // PostgreSQL now refuses the password the pooler logs in with.
    pg_.exec("ALTER ROLE app PASSWORD 'changed'");
    const std::string refused = selectOne(appConninfo());
    EXPECT_NE(refused.find("password authentication failed for user \"app\""), std::string::npos) << refused;
    // Mended on PostgreSQL's side, nothing told to the pooler.
    pg_.exec("ALTER ROLE app PASSWORD 'apppass'");
    const auto mended = Clock::now();
    // Within server_login_retry a new client may still get the cached error (PgBouncer's fast
    // fail); past it, the login is tried again and succeeds.
    std::string answer;
    EXPECT_TRUE(waitUntil([&] { return (answer = selectOne(appConninfo())) == "1"; }, 15s, 100ms)) << answer;
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - mended);
    EXPECT_LT(waited.count(), 5000) << "the cached error outlived server_login_retry = 1";
    // Every later client logs in.
    for (int i = 0; i < 3; ++i) EXPECT_EQ(selectOne(appConninfo()), "1");
}

// As PgBouncer: a failed server login fails every client waiting for that pool, on every worker,
// instead of leaving those of the other workers to wait out server_login_retry for a second try.
TEST(ServerLoginFailure, FailsTheClientsWaitingOnEveryWorker) {
    PgServer pg;
    pg.start();
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(),
                                      "workers = 2\npool_mode = transaction\ndefault_pool_size = 1\n"
                                      "server_login_retry = 30\nquery_wait_timeout = 60\n",
                                      "app = host=" + pg.host() + " port=" + std::to_string(pg.port()) +
                                          " dbname=app user=app password=apppass\n")));
    std::vector<PqConn> clients;
    for (int i = 0; i < 6; ++i) {  // on both workers, in all likelihood
        clients.emplace_back(sluice.conninfo("app", "apppass", "app"));
        ASSERT_TRUE(clients.back().isOk()) << clients.back().error();
        ASSERT_EQ(clients.back().exec("SELECT 1").value(), "1");
    }
    // The pooler's password no longer works; its one server is replaced at its next use.
    pg.exec("ALTER ROLE app PASSWORD 'changed'");
    PqConn console(sluice.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
    ASSERT_TRUE(console.exec("RECONNECT").ok);
    for (auto& conn : clients) ASSERT_TRUE(conn.send("SELECT 1"));
    for (size_t i = 0; i < clients.size(); ++i) {
        QueryResult result = clients[i].collect(10s);
        EXPECT_FALSE(result.ok) << "client " << i;
        EXPECT_NE(result.error.find("password authentication failed"), std::string::npos)
            << "client " << i << ": " << result.describe() << "\n" << lastLines(sluice.log(), 10);
    }
}

// A connect that fails at once, inside the call (an unreachable network: ENETUNREACH), is a
// connect failure like any other: the client waits, gets its error, and the pooler lives on
// (the server connection used to be freed while its handle was still closing).
TEST(ServerConnect, AnUnreachableNetworkIsAConnectFailure) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(), "query_wait_timeout = 1\nserver_login_retry = 1\n",
                                      "nowhere = host=255.255.255.255 port=5432 dbname=app\napp = host=127.0.0.1 port=" +
                                          std::to_string(pg.port()) + " dbname=app\n")));
    for (int attempt = 0; attempt < 2; ++attempt) {
        const std::string answer = selectOne(sluice.conninfo("app", "apppass", "nowhere"));
        EXPECT_NE(answer.find("query_wait_timeout"), std::string::npos) << answer;
        EXPECT_NE(answer.find("connect failed"), std::string::npos) << answer;
    }
    EXPECT_EQ(selectOne(sluice.conninfo("app", "apppass", "app")), "1") << lastLines(sluice.log(), 10);
    EXPECT_TRUE(sluice.isRunning());
}

}  // namespace
}  // namespace sluice::itest
