// Cancel requests that take their time (PgBouncer's being_canceled and cancel_wait_timeout): a
// server whose last client's cancel is still on its way serves nobody else until the cancel is
// done, so it can never stop the next client's query; a cancel that cannot reach its server is
// dropped after cancel_wait_timeout and its requester closed, with PgBouncer's log line.
#include <gtest/gtest.h>

#include <signal.h>

#include <thread>

#include "admin_util.h"
#include "sluice_process.h"
#include "tcp_relay.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

// The postmaster stopped (SIGSTOP) for the scope: a cancel request reaches its socket, nobody
// acts on it. Running backends go on.
class FrozenPostmaster {
public:
    explicit FrozenPostmaster(pid_t pid) : pid_(pid) { ::kill(pid_, SIGSTOP); }
    ~FrozenPostmaster() { thaw(); }
    void thaw() {
        if (pid_ > 0) ::kill(pid_, SIGCONT);
        pid_ = -1;
    }

private:
    pid_t pid_;
};

TEST(Cancel, AServerWithACancelOnItsWayServesNoOtherClientUntilTheCancelIsDone) {
    ASSERT_TRUE(clearAppBackends());
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(), "pool_mode = transaction\ndefault_pool_size = 1\n")));
    PqConn a(sluice.conninfo("app", "apppass", "app")), b(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(a.isOk() && b.isOk()) << a.error() << b.error();
    ASSERT_TRUE(a.send("SELECT pg_sleep(1.5)"));
    PgCounter counter;
    ASSERT_TRUE(counter.waitForActive("SELECT pg_sleep(1.5)"));
    const pid_t postmaster = sharedPg().postmasterPid();
    ASSERT_GT(postmaster, 0);
    FrozenPostmaster frozen(postmaster);
    std::atomic<bool> cancelReturned{false};
    std::thread canceller([&] {
        a.cancel();  // returns once the pooler closes the cancel connection: when the cancel is done
        cancelReturned = true;
    });
    ASSERT_TRUE(waitUntil([&] { return poolValue(sluice, "sv_active_cancel") == 1; }, 10s))
        << lastLines(sluice.log(), 10);
    EXPECT_EQ(poolValue(sluice, "cl_active_cancel_req"), 1);
    // The cancel sits unread at the stopped postmaster: a's query ends by itself...
    QueryResult first = a.collect(10s);
    EXPECT_TRUE(first.ok) << first.describe();
    // ...and its server waits for the cancel instead of serving b, whose query the late cancel
    // would otherwise stop.
    ASSERT_TRUE(waitUntil([&] { return poolValue(sluice, "sv_being_canceled") == 1; }, 10s));
    ASSERT_TRUE(b.send("SELECT pg_sleep(0.5), 'b'"));
    ASSERT_TRUE(waitUntil([&] { return poolValue(sluice, "cl_waiting") == 1; }, 10s));
    EXPECT_FALSE(cancelReturned.load()) << "PQcancel returned before the cancel was done";
    frozen.thaw();
    canceller.join();
    QueryResult second = b.collect(10s);
    EXPECT_TRUE(second.ok) << second.describe() << lastLines(sluice.log(), 10);
    EXPECT_EQ(second.value(0, 1), "b");
    EXPECT_TRUE(waitUntil([&] { return poolValue(sluice, "sv_being_canceled") == 0; }, 10s));
    EXPECT_EQ(poolValue(sluice, "sv_active_cancel"), 0);
    EXPECT_NE(sluice.log().find("closing because: successfully sent cancel request"), std::string::npos);
}

TEST(Cancel, ACancelThatCannotReachItsServerIsDroppedAfterCancelWaitTimeout) {
    ASSERT_TRUE(clearAppBackends());
    TcpRelay relay(sharedPg().port());
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(),
                                      "pool_mode = transaction\ndefault_pool_size = 1\ncancel_wait_timeout = 1\n",
                                      "app = host=127.0.0.1 port=" + std::to_string(relay.port()) + " dbname=app\n")));
    PqConn a(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(a.isOk()) << a.error();
    ASSERT_TRUE(a.send("SELECT pg_sleep(2)"));
    PgCounter counter;
    ASSERT_TRUE(counter.waitForActive("SELECT pg_sleep(2)"));
    // The server connection goes on through the relay; a new connection to it (the cancel's) hangs.
    relay.blackholeNewConnections();
    const auto started = std::chrono::steady_clock::now();
    a.cancel();  // answered when the pooler gives up
    EXPECT_GE(elapsedMs(started), 900);
    EXPECT_LT(elapsedMs(started), 10000);
    EXPECT_TRUE(waitUntil([&] { return sluice.log().find("closing because: cancel_wait_timeout") != std::string::npos; },
                          10s))
        << lastLines(sluice.log(), 10);
    // The query was never cancelled, and the server serves on.
    QueryResult first = a.collect(10s);
    EXPECT_TRUE(first.ok) << first.describe();
    QueryResult next = a.exec("SELECT 'next'");
    EXPECT_EQ(next.value(), "next") << next.describe();
    EXPECT_EQ(poolValue(sluice, "sv_being_canceled"), 0);
}

}  // namespace
}  // namespace sluice::itest
