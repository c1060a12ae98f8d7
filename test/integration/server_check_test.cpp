// server_check_query / server_check_delay: a server that sat unused for the delay is checked
// before a client gets it; one handed from a client straight to a queued one is not (it was
// in use a moment ago); one that has just logged in never, even with server_check_delay = 0.
// The checks are counted with a sequence the check query advances.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

using namespace std::chrono_literals;

class ServerCheck : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(clearAppBackends()) << "backends of an earlier test would not go away";
        sharedPg().exec("DROP SEQUENCE IF EXISTS sluice_checks; CREATE SEQUENCE sluice_checks; "
                        "GRANT ALL ON SEQUENCE sluice_checks TO PUBLIC",
                        "app");
    }
    void startSluice(const std::string& checkDelay) {
        ASSERT_TRUE(sluice_.start(basicIni(sharedPg(), freePort(),
                                           "pool_mode = transaction\ndefault_pool_size = 1\n"
                                           "server_check_delay = " + checkDelay + "\n"
                                           "server_check_query = SELECT nextval('sluice_checks')\n")));
    }
    // How many times the check query ran so far.
    long checks() const {
        return std::stol(sharedPg().query1(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM sluice_checks", "app"));
    }
    PqConn client() { return PqConn(sluice_.conninfo("app", "apppass", "app")); }
    std::string logTail() const { return "\n--- sluice log:\n" + lastLines(sluice_.log(), 20); }

    SluiceProcess sluice_;
};

TEST_F(ServerCheck, ServerUnusedForTheDelayIsCheckedBeforeReuse) {
    startSluice("1");
    PqConn conn = client();
    ASSERT_TRUE(conn.isOk()) << conn.error() << logTail();
    ASSERT_TRUE(conn.exec("SELECT 1").ok);
    const long before = checks();
    std::this_thread::sleep_for(1300ms);
    ASSERT_TRUE(conn.exec("SELECT 1").ok) << logTail();
    EXPECT_EQ(checks(), before + 1) << "a server idle longer than server_check_delay was not checked";
    ASSERT_TRUE(conn.exec("SELECT 1").ok) << logTail();
    EXPECT_EQ(checks(), before + 1) << "a server released a moment ago was checked again";
}

TEST_F(ServerCheck, ServerHandedStraightToAQueuedClientIsNotChecked) {
    startSluice("1");
    PqConn first = client(), second = client();
    ASSERT_TRUE(first.isOk()) << first.error() << logTail();
    ASSERT_TRUE(second.isOk()) << second.error() << logTail();
    ASSERT_TRUE(first.exec("SELECT 1").ok);  // the one server, idle from now on
    const long before = checks();
    std::this_thread::sleep_for(1300ms);
    // Two clients take turns on the one server for well over the delay: each release finds the
    // other one queued, so the server never rests. Only the first use (after the pause) is checked.
    std::atomic<int> done{0};
    auto work = [&](PqConn& conn) {
        for (auto end = std::chrono::steady_clock::now() + 2500ms; std::chrono::steady_clock::now() < end;) {
            QueryResult step = conn.exec("SELECT pg_sleep(0.05)");
            EXPECT_TRUE(step.ok) << step.describe();
            if (!step.ok) return;
            ++done;
        }
    };
    std::thread other([&] { work(second); });
    work(first);
    other.join();
    EXPECT_GE(done.load(), 20) << logTail();
    EXPECT_LE(checks() - before, 1) << "servers in constant use were checked on hand-off (" << done.load() << " queries)"
                           << logTail();
}

// server_check_delay = 0 checks every server a client gave back before the next client gets it,
// but never one that has just logged in (PgBouncer checks only servers it has used).
TEST_F(ServerCheck, ServerThatHasJustLoggedInIsNotCheckedEvenWithDelayZero) {
    startSluice("0");
    PqConn conn = client();
    ASSERT_TRUE(conn.isOk()) << conn.error() << logTail();
    ASSERT_TRUE(conn.exec("SELECT 1").ok) << logTail();
    EXPECT_EQ(checks(), 0) << "the server that had just logged in was checked";
    ASSERT_TRUE(conn.exec("SELECT 1").ok) << logTail();
    EXPECT_EQ(checks(), 1) << "with server_check_delay = 0 a reused server is checked";
}

}  // namespace
}  // namespace sluice::itest
