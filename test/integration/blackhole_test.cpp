// Chaos (issue 16): a server that vanishes from the network. Its packets are dropped without a
// word (BlackholeLink: a network namespace whose link goes down), which only TCP's timers notice,
// so Sluice's tcp_user_timeout and server_connect_timeout are what stand between a client and a
// wait of many minutes. Without the privileges for a namespace the tests skip, saying what is
// missing. (A relay that stops accepting, as in cancel_test, covers connects that hang without
// privileges; this covers the kernel no longer acknowledging an established connection.)
#include <gtest/gtest.h>

#include <memory>

#include "admin_util.h"
#include "blackhole_link.h"
#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"
#include "tcp_relay.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

using Clock = std::chrono::steady_clock;

class Blackhole : public ::testing::Test {
protected:
    void SetUp() override {
        try {
            link_ = std::make_unique<BlackholeLink>();
        } catch (const BlackholeLink::Unavailable& missing) {
            GTEST_SKIP() << "no network namespace to blackhole a server in: " << missing.what();
        }
        // PostgreSQL, seen from Sluice at an address inside the namespace.
        relay_ = std::make_unique<TcpRelay>(sharedPg().port(), link_->listenInside());
    }

    // Sluice in transaction mode with database `app` behind the link.
    ::testing::AssertionResult startSluice(const std::string& settings) {
        return sluice_.start(basicIni(sharedPg(), freePort(), "pool_mode = transaction\n" + settings,
                                      "app = host=" + link_->address() + " port=" + std::to_string(relay_->port()) +
                                          " dbname=app\n"));
    }

    std::string context() const { return "\n--- sluice log:\n" + lastLines(sluice_.log(), 15); }

    std::unique_ptr<BlackholeLink> link_;
    std::unique_ptr<TcpRelay> relay_;
    SluiceProcess sluice_;
};

TEST_F(Blackhole, TcpUserTimeoutEndsATransactionWhoseServerStoppedAcknowledging) {
    ASSERT_TRUE(startSluice("tcp_user_timeout = 1000\n"));
    PqConn client(sluice_.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(client.isOk()) << client.error() << context();
    ASSERT_TRUE(client.exec("BEGIN").ok) << context();
    ASSERT_EQ(client.exec("SELECT 'linked'").value(), "linked") << context();

    link_->cut();
    const auto started = Clock::now();
    // Without tcp_user_timeout the kernel would retransmit for about 15 minutes (tcp_retries2).
    const QueryResult lost = client.exec("SELECT 'after the cut'", 30s);
    const long long waited = elapsedMs(started);
    EXPECT_FALSE(lost.ok) << context();
    EXPECT_EQ(lost.sqlstate.substr(0, 2), "08") << lost.describe() << context();
    EXPECT_GE(waited, 900) << "an error before tcp_user_timeout (1000 ms) was not the timeout's: " << lost.describe();
    EXPECT_LT(waited, 15000) << "tcp_user_timeout = 1000 ms was not honoured: " << lost.describe() << context();

    // The pool recovers once the network does: the dead server is gone, a new one serves.
    link_->restore();
    EXPECT_TRUE(waitUntil([&] { return rowsForDatabase(sluice_, "SHOW SERVERS") == 0; }, 10s))
        << "the dead server connection was kept" << context();
    PqConn next(sluice_.conninfo("app", "apppass", "app"));
    EXPECT_EQ(next.exec("SELECT 'recovered'", 20s).value(), "recovered") << next.error() << context();
}

TEST_F(Blackhole, ServerConnectTimeoutEndsAConnectToAnAddressThatDropsPackets) {
    link_->cut();
    ASSERT_TRUE(startSluice("server_connect_timeout = 1\nserver_login_retry = 1\nquery_wait_timeout = 4\n"));
    const auto started = Clock::now();
    PqConn client(sluice_.conninfo("app", "apppass", "app") + " connect_timeout=20", 25s);
    const auto [sqlstate, error] = loginOrFirstQueryError(client);
    EXPECT_EQ(sqlstate.substr(0, 2), "08") << error << context();
    EXPECT_NE(error.find("connect timeout"), std::string::npos)
        << "server_connect_timeout = 1 must end each attempt: " << error << context();
    EXPECT_LT(elapsedMs(started), 10000) << "query_wait_timeout = 4 must bound the wait: " << error;

    // Once packets flow again, the pool connects: its next attempt comes within server_login_retry.
    link_->restore();
    EXPECT_TRUE(waitUntil([&] {
        PqConn next(sluice_.conninfo("app", "apppass", "app"));
        return next.exec("SELECT 'recovered'", 10s).value() == "recovered";
    }, 20s, 200ms)) << context();
}

}  // namespace
}  // namespace sluice::itest
