// SIGUSR1 (PAUSE) and SIGUSR2 (RESUME), as PgBouncer: during a pause queries wait and the
// servers are closed once released; after the resume the waiting query runs.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <poll.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"

namespace sluice::itest {
namespace {

using namespace std::chrono_literals;

// Polls `condition` every 50 ms until it holds or `limit` passes.
template <class Fn>
bool eventually(Fn condition, std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return condition();
}

bool resultArrives(PGconn* conn, std::chrono::milliseconds limit) {
    pollfd pfd{PQsocket(conn), POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(limit.count())) <= 0) return false;
    PQconsumeInput(conn);
    return !PQisBusy(conn);
}

TEST(PauseSignal, QueriesWaitDuringPauseAndRunAfterResume) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(), "pool_mode = transaction\ndefault_pool_size = 2\n")));
    PqConn client(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(client.isOk()) << client.error();
    const std::string backend = client.exec("SELECT pg_backend_pid()").value();
    const std::string stillThere = "SELECT count(*) FROM pg_stat_activity WHERE pid = " + backend;
    ASSERT_EQ(pg.query1(stillThere), "1");

    ASSERT_TRUE(sluice.signal(SIGUSR1));
    // The released server is closed while paused.
    EXPECT_TRUE(eventually([&] { return pg.query1(stillThere) == "0"; }))
        << "server " << backend << " still open during PAUSE\n" << lastLines(sluice.log(), 20);

    ASSERT_TRUE(client.send("SELECT 42"));
    EXPECT_FALSE(resultArrives(client.raw(), 700ms)) << "a query ran during PAUSE";

    ASSERT_TRUE(sluice.signal(SIGUSR2));
    QueryResult result = client.collect(10s);
    ASSERT_TRUE(result.ok) << result.describe() << "\n" << lastLines(sluice.log(), 20);
    EXPECT_EQ(result.value(), "42");
    EXPECT_NE(sluice.log().find("got SIGUSR1"), std::string::npos);
    EXPECT_NE(sluice.log().find("got SIGUSR2"), std::string::npos);
}

}  // namespace
}  // namespace sluice::itest
