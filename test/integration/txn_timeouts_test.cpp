// Every timeout and pool limit of transaction pooling, with PgBouncer's meaning: each timeout
// closes the client with the pooler's ErrorResponse (SQLSTATE and message as src/conn/client_conn.cpp
// sends them), each limit is what PostgreSQL actually sees. Timeouts are 1 s or less (the pooler
// sweeps every 200 ms), so the whole file runs in seconds.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"
#include "tcp_relay.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

using Clock = std::chrono::steady_clock;

bool staysUnanswered(const PqConn& conn, std::chrono::milliseconds window) {
    return !waitFd(PQsocket(conn.raw()), POLLIN, Clock::now() + window);
}

class TxnTimeouts : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(clearAppBackends()) << "backends of an earlier test would not go away"; }

    // [pooler]: transaction pooling, one server, plus `extra` (whose keys win).
    void startSluice(const std::string& extra, const std::string& databases = "") {
        ASSERT_TRUE(sluice_.start(basicIni(sharedPg(), freePort(),
                                           "pool_mode = transaction\ndefault_pool_size = 1\n" + extra, databases)));
    }
    std::string serverLine(const std::string& name, const std::string& extra = "") const {
        return name + " = host=127.0.0.1 port=" + std::to_string(sharedPg().port()) + " dbname=app" +
               (extra.empty() ? "" : " " + extra) + "\n";
    }
    PqConn client(const std::string& user = "app", const std::string& db = "app") {
        return PqConn(sluice_.conninfo(user, user == "app" ? "apppass" : "secret", db));
    }
    std::string logTail() const { return "\n--- sluice log:\n" + lastLines(sluice_.log(), 20); }

    SluiceProcess sluice_;
};

TEST_F(TxnTimeouts, QueryTimeoutCancelsTheQueryAndClosesTheClient) {
    startSluice("query_timeout = 0.5\n");
    PqConn conn = client();
    ASSERT_TRUE(conn.isOk()) << conn.error() << logTail();
    QueryResult quick = conn.exec("SELECT pg_sleep(0.1), 'quick'");
    ASSERT_TRUE(quick.ok) << "a query shorter than query_timeout failed: " << quick.describe() << logTail();
    const auto started = Clock::now();
    QueryResult slow = conn.exec("SELECT pg_sleep(3)", 6s);
    const long long took = elapsedMs(started);
    EXPECT_FALSE(slow.ok);
    EXPECT_EQ(slow.sqlstate, "57014") << slow.describe() << logTail();
    EXPECT_NE(slow.error.find("query timeout"), std::string::npos) << slow.describe();
    EXPECT_GE(took, 400);
    EXPECT_LT(took, 2500) << "query_timeout = 0.5 fired late";
    EXPECT_FALSE(conn.exec("SELECT 1", 3s).ok) << "the client was not closed";

    // The pool's one slot is free again: a new client is served at once.
    const auto next = Clock::now();
    PqConn other = client();
    ASSERT_TRUE(other.isOk()) << other.error() << logTail();
    QueryResult fine = other.exec("SELECT now() = statement_timestamp()", 5s);
    ASSERT_TRUE(fine.ok) << fine.describe() << logTail();
    EXPECT_EQ(fine.value(), "t");
    EXPECT_LT(elapsedMs(next), 2000);
}

// As PgBouncer: query_timeout counts from the request, so a query queued for a server all that
// time is ended too ("query_timeout", 08P01), with PgBouncer's "pooler error" log line.
TEST_F(TxnTimeouts, QueryTimeoutEndsAQueryStillQueuedForAServer) {
    startSluice("query_timeout = 1\n");
    PqConn holder = client();
    ASSERT_TRUE(holder.isOk()) << holder.error() << logTail();
    ASSERT_TRUE(holder.exec("BEGIN").ok);  // the pool's only server stays with it
    PqConn queued = client();
    ASSERT_TRUE(queued.isOk()) << queued.error() << logTail();
    const auto started = Clock::now();
    QueryResult waited = queued.exec("SELECT 1", 10s);
    EXPECT_FALSE(waited.ok) << "a query queued past query_timeout ran" << logTail();
    EXPECT_EQ(waited.sqlstate, "08P01") << waited.describe();
    EXPECT_EQ(waited.error, "query_timeout") << waited.describe();
    EXPECT_GE(elapsedMs(started), 900);
    EXPECT_TRUE(holder.exec("COMMIT").ok) << "the client holding the server was touched" << logTail();
    EXPECT_NE(sluice_.log().find("pooler error: query_timeout"), std::string::npos) << logTail();
}

// As PgBouncer: a client that logged in to a pool no server has answered yet is still logging
// in, and client_login_timeout ends its wait ("client_login_timeout (server down)").
TEST_F(TxnTimeouts, ClientLoginTimeoutEndsTheWaitForAServerThatNeverAnswers) {
    TcpRelay unreachable(sharedPg().port());
    unreachable.blackholeNewConnections();  // a connect to it hangs, as to a host that drops packets
    startSluice("client_login_timeout = 1\nserver_connect_timeout = 30\n",
                "app = host=127.0.0.1 port=" + std::to_string(unreachable.port()) + " dbname=app\n");
    const auto started = Clock::now();
    PqConn conn = client();
    EXPECT_FALSE(conn.isOk()) << "a login waited for a server past client_login_timeout" << logTail();
    EXPECT_NE(conn.error().find("client_login_timeout (server down)"), std::string::npos) << conn.error();
    EXPECT_GE(elapsedMs(started), 900);
}

TEST_F(TxnTimeouts, IdleTransactionTimeoutClosesAClientIdleInsideItsTransaction) {
    startSluice("idle_transaction_timeout = 0.5\n");
    // A transaction that keeps working is not idle, however long it lasts.
    PqConn busy = client();
    ASSERT_TRUE(busy.isOk()) << busy.error() << logTail();
    ASSERT_TRUE(busy.exec("BEGIN").ok);
    for (int i = 0; i < 6; ++i) {
        std::this_thread::sleep_for(200ms);
        QueryResult step = busy.exec("SELECT " + std::to_string(i));
        ASSERT_TRUE(step.ok) << "step " << i << ": " << step.describe() << logTail();
    }
    ASSERT_TRUE(busy.exec("COMMIT").ok);

    // Idle outside a transaction: the client is not affected either (it holds no server).
    std::this_thread::sleep_for(800ms);
    ASSERT_TRUE(busy.exec("SELECT 'still here'").ok) << logTail();

    ASSERT_TRUE(busy.exec("BEGIN").ok);
    ASSERT_TRUE(busy.exec("SELECT 1").ok);
    const auto idleSince = Clock::now();
    Goodbye bye = awaitGoodbye(busy, 3s);
    EXPECT_TRUE(bye.error) << "idle_transaction_timeout = 0.5 did not end a client idle 3 s in its transaction: "
                           << bye.describe() << logTail();
    EXPECT_EQ(bye.sqlstate, "25P03") << bye.describe();
    EXPECT_NE(bye.message.find("idle transaction timeout"), std::string::npos) << bye.describe();
    EXPECT_TRUE(bye.closed) << bye.describe();
    EXPECT_GE(elapsedMs(idleSince), 400);

    // Its server was closed, not handed on inside the transaction.
    PqConn next = client();
    ASSERT_TRUE(next.isOk()) << next.error() << logTail();
    QueryResult clean = next.exec("SELECT now() = statement_timestamp()", 3s);
    ASSERT_TRUE(clean.ok) << "the idle transaction still holds the only server: " << clean.describe() << logTail();
    EXPECT_EQ(clean.value(), "t");
}

TEST_F(TxnTimeouts, TransactionTimeoutCountsFromTheStartOfTheTransaction) {
    startSluice("transaction_timeout = 1\n");
    PqConn conn = client();
    ASSERT_TRUE(conn.isOk()) << conn.error() << logTail();
    // Many short transactions, 1.6 s in all: none of them is too long.
    for (int i = 0; i < 8; ++i) {
        ASSERT_TRUE(conn.exec("BEGIN").ok);
        QueryResult step = conn.exec("SELECT pg_sleep(0.2)");
        ASSERT_TRUE(step.ok) << "transaction " << i << ": " << step.describe() << logTail();
        ASSERT_TRUE(conn.exec("COMMIT").ok);
    }
    // One transaction that is always busy, never idle: it is ended after 1 s all the same.
    ASSERT_TRUE(conn.exec("BEGIN").ok);
    const auto began = Clock::now();
    QueryResult failed;
    for (int i = 0; i < 25; ++i) {
        failed = conn.exec("SELECT pg_sleep(0.2)", 5s);
        if (!failed.ok) break;
    }
    const long long took = elapsedMs(began);
    ASSERT_FALSE(failed.ok) << "a 5 s transaction outlived transaction_timeout = 1" << logTail();
    EXPECT_EQ(failed.sqlstate, "25P04") << failed.describe() << logTail();
    EXPECT_NE(failed.error.find("transaction timeout"), std::string::npos) << failed.describe();
    EXPECT_GE(took, 900);
    EXPECT_LT(took, 3000);
    EXPECT_FALSE(conn.exec("SELECT 1", 3s).ok) << "the client was not closed";
}

TEST_F(TxnTimeouts, ClientIdleTimeoutClosesAnIdleClientOnly) {
    startSluice("client_idle_timeout = 0.5\n");
    PqConn active = client(), idle = client();
    ASSERT_TRUE(active.isOk()) << active.error() << logTail();
    ASSERT_TRUE(idle.isOk()) << idle.error() << logTail();
    ASSERT_TRUE(idle.exec("SELECT 1").ok);
    const auto idleSince = Clock::now();
    std::thread worker([&] {
        for (int i = 0; i < 6; ++i) {
            std::this_thread::sleep_for(200ms);
            QueryResult step = active.exec("SELECT 1");
            EXPECT_TRUE(step.ok) << "an active client was closed at step " << i << ": " << step.describe();
            if (!step.ok) return;
        }
    });
    Goodbye bye = awaitGoodbye(idle, 4s);
    worker.join();
    EXPECT_TRUE(bye.error) << bye.describe() << logTail();
    EXPECT_EQ(bye.sqlstate, "57P05") << bye.describe();
    EXPECT_NE(bye.message.find("client_idle_timeout"), std::string::npos) << bye.describe();
    EXPECT_TRUE(bye.closed) << bye.describe();
    EXPECT_GE(elapsedMs(idleSince), 400);
}

// Idle clients without a timeout are left out of the sweep (they cost nothing while idle); a
// reload that gives them one must still reach them.
TEST_F(TxnTimeouts, ClientIdleTimeoutFromAReloadReachesClientsAlreadyIdle) {
    const int port = freePort();
    const std::string base = "pool_mode = transaction\ndefault_pool_size = 1\n";
    ASSERT_TRUE(sluice_.start(basicIni(sharedPg(), port, base)));
    PqConn idle = client();
    ASSERT_TRUE(idle.isOk()) << idle.error() << logTail();
    ASSERT_TRUE(idle.exec("SELECT 1").ok);
    std::this_thread::sleep_for(700ms);  // several sweeps: the client is set aside as quiet
    ASSERT_TRUE(staysUnanswered(idle, 10ms)) << "closed before any timeout was set";
    ASSERT_TRUE(sluice_.reload(basicIni(sharedPg(), port, base + "client_idle_timeout = 0.5\n")));
    Goodbye bye = awaitGoodbye(idle, 4s);
    EXPECT_TRUE(bye.error) << bye.describe() << logTail();
    EXPECT_EQ(bye.sqlstate, "57P05") << bye.describe();
    EXPECT_TRUE(bye.closed) << bye.describe();
    // A client that logs in after the reload is timed out as well, and one that keeps working is not.
    PqConn busy = client();
    ASSERT_TRUE(busy.isOk()) << busy.error() << logTail();
    for (int i = 0; i < 5; ++i) {
        std::this_thread::sleep_for(200ms);
        ASSERT_TRUE(busy.exec("SELECT 1").ok) << "a working client was closed at step " << i << logTail();
    }
    Goodbye later = awaitGoodbye(busy, 4s);
    EXPECT_EQ(later.sqlstate, "57P05") << later.describe() << logTail();
}

TEST_F(TxnTimeouts, QueryWaitTimeoutEndsAClientQueuedTooLong) {
    startSluice("query_wait_timeout = 0.5\n");
    PqConn holder = client(), waiter = client();
    ASSERT_TRUE(holder.isOk()) << holder.error() << logTail();
    ASSERT_TRUE(waiter.isOk()) << waiter.error() << logTail();
    ASSERT_TRUE(holder.exec("BEGIN").ok);  // keeps the only server
    ASSERT_TRUE(holder.exec("SELECT 1").ok);
    const auto queued = Clock::now();
    QueryResult result = waiter.exec("SELECT 'never served'", 5s);
    const long long took = elapsedMs(queued);
    EXPECT_FALSE(result.ok) << "the queued client got a server while the only one was taken";
    EXPECT_EQ(result.sqlstate, "08P01") << result.describe() << logTail();
    EXPECT_NE(result.error.find("query_wait_timeout"), std::string::npos) << result.describe();
    EXPECT_GE(took, 400);
    EXPECT_LT(took, 2500);
    EXPECT_FALSE(waiter.exec("SELECT 1", 3s).ok) << "the queued client was not closed";
    // The holder is untouched.
    EXPECT_EQ(holder.exec("SELECT 'holder fine'").value(), "holder fine");
    ASSERT_TRUE(holder.exec("COMMIT").ok);
}

TEST_F(TxnTimeouts, ClientLoginTimeoutClosesClientsThatNeverFinishLogin) {
    startSluice("client_login_timeout = 1\n");
    RawClient silent(sluice_.port());
    ASSERT_TRUE(silent.connected());
    RawClient halfway(sluice_.port());  // sends its startup packet, never answers the md5 challenge
    ASSERT_TRUE(halfway.connected());
    ASSERT_TRUE(halfway.send(startupPacket({{"user", "app"}, {"database", "app"}})));
    auto challenge = halfway.readMessage();
    ASSERT_TRUE(challenge.has_value());
    ASSERT_EQ(challenge->type, 'R');
    const auto started = Clock::now();
    // Meanwhile a proper client logs in and works.
    PqConn proper = client();
    ASSERT_TRUE(proper.isOk()) << proper.error() << logTail();
    for (RawClient* raw : {&silent, &halfway}) {
        SCOPED_TRACE(raw == &silent ? "silent client" : "client stuck in authentication");
        auto error = raw->readMessage(4s);
        ASSERT_TRUE(error.has_value()) << "closed without an error, or not at all" << logTail();
        ASSERT_EQ(error->type, 'E');
        auto fields = errorFields(error->body);
        EXPECT_EQ(fields['C'], "08P01") << fields['M'];
        EXPECT_NE(fields['M'].find("client_login_timeout"), std::string::npos) << fields['M'];
        EXPECT_TRUE(raw->waitClosed(3s));
    }
    EXPECT_GE(elapsedMs(started), 700);
    EXPECT_EQ(proper.exec("SELECT 'proper'").value(), "proper") << "a logged-in client was closed too";
}

TEST_F(TxnTimeouts, ServerIdleTimeoutClosesIdleServers) {
    startSluice("server_idle_timeout = 0.5\n");
    PqConn conn = client();
    ASSERT_TRUE(conn.isOk()) << conn.error() << logTail();
    const std::string firstPid = conn.exec("SELECT pg_backend_pid()").value();
    ASSERT_EQ(appBackends(), 1);
    EXPECT_TRUE(waitUntil([] { return appBackends() == 0; }, 4s)) << "the idle server was never closed" << logTail();
    // The client, idle all along, is still connected and gets a new server.
    QueryResult again = conn.exec("SELECT pg_backend_pid()", 5s);
    ASSERT_TRUE(again.ok) << again.describe() << logTail();
    EXPECT_NE(again.value(), firstPid);
}

TEST_F(TxnTimeouts, ServerLifetimeReplacesServersInUse) {
    startSluice("server_lifetime = 1\nserver_idle_timeout = 0\n");
    PqConn conn = client();
    ASSERT_TRUE(conn.isOk()) << conn.error() << logTail();
    const auto started = Clock::now();
    const std::string firstPid = conn.exec("SELECT pg_backend_pid()").value();
    ASSERT_FALSE(firstPid.empty());
    std::string pid = firstPid;
    long long changedAfter = -1;
    while (elapsedMs(started) < 4000) {
        std::this_thread::sleep_for(100ms);
        QueryResult now = conn.exec("SELECT pg_backend_pid()", 5s);
        ASSERT_TRUE(now.ok) << now.describe() << logTail();
        if (now.value() != firstPid) {
            changedAfter = elapsedMs(started);
            pid = now.value();
            break;
        }
    }
    ASSERT_GE(changedAfter, 0) << "the server outlived server_lifetime = 1 by 3 s" << logTail();
    EXPECT_GE(changedAfter, 800);
    // The old one is gone from PostgreSQL, not only from the pool.
    EXPECT_TRUE(waitUntil([] { return appBackends() == 1; }, 3s)) << appBackends();
}

// PgBouncer's server_lifetime = 0: each server connection serves one transaction, then closes.
TEST_F(TxnTimeouts, ServerLifetimeZeroUsesEachServerOnce) {
    startSluice("server_lifetime = 0\nserver_idle_timeout = 0\n");
    PqConn conn = client();
    ASSERT_TRUE(conn.isOk()) << conn.error() << logTail();
    std::set<std::string> pids;
    for (int i = 0; i < 3; ++i) {
        QueryResult pid = conn.exec("SELECT pg_backend_pid()", 5s);
        ASSERT_TRUE(pid.ok) << pid.describe() << logTail();
        pids.insert(pid.value());
    }
    EXPECT_EQ(pids.size(), 3u) << "a server served more than one transaction" << logTail();
    EXPECT_TRUE(waitUntil([] { return appBackends() == 0; }, 5s)) << "the last server stayed open" << logTail();
    EXPECT_NE(sluice_.log().find("server lifetime over"), std::string::npos) << logTail();
}

// Six clients of one pool run 0.3 s queries at once, then six clients of a second pool under the
// same limit do the same. Returns the first phase's duration; every query must succeed.
void runTwoPoolsUnderOneLimit(const std::function<PqConn(int pool)>& connect, long long* firstMs,
                              long long* secondMs) {
    for (int pool = 0; pool < 2; ++pool) {
        SCOPED_TRACE("pool " + std::to_string(pool));
        std::vector<PqConn> clients;
        const auto started = Clock::now();
        for (int i = 0; i < 3; ++i) {
            clients.push_back(connect(pool));
            ASSERT_TRUE(clients.back().isOk()) << "client " << i << ": " << clients.back().error();
        }
        for (auto& conn : clients) ASSERT_TRUE(conn.send("SELECT pg_sleep(0.3)"));
        for (std::size_t i = 0; i < clients.size(); ++i) {
            QueryResult result = clients[i].collect(8s);
            EXPECT_TRUE(result.ok) << "client " << i << ": " << result.describe();
        }
        *(pool == 0 ? firstMs : secondMs) = elapsedMs(started);
    }
}

// PgBouncer's promise for max_db_connections / max_user_connections: a pool waiting at the limit
// gets a server as soon as another pool's idle server closes (here by server_idle_timeout); 1.25
// even evicts the other pool's idle server at once.
TEST_F(TxnTimeouts, MaxDbConnectionsBoundsEveryPoolOfTheDatabase) {
    startSluice("default_pool_size = 5\nmax_db_connections = 2\nserver_idle_timeout = 0.5\n"
                "query_wait_timeout = 3\n");
    PgCounter counter;
    MaxSampler seen([&counter] {
        return counter.count("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND "
                             "datname = 'app' AND pid <> pg_backend_pid()");
    });
    long long firstMs = 0, secondMs = 0;
    runTwoPoolsUnderOneLimit(
        [this](int pool) { return PqConn(sluice_.conninfo(pool == 0 ? "app" : "sluice_test",
                                                           pool == 0 ? "apppass" : "secret", "app"),
                                         8s); },
        &firstMs, &secondMs);
    seen.stop();
    EXPECT_LE(seen.max(), 2) << "PostgreSQL saw more backends in database app than max_db_connections";
    EXPECT_EQ(seen.max(), 2) << "the first pool never used both allowed servers";
    EXPECT_GE(firstMs, 400) << "three 0.3 s queries on two servers take two rounds";
    EXPECT_LT(secondMs, 2500) << "the second user's pool was not served after the first pool's servers idled out"
                              << logTail();
}

TEST_F(TxnTimeouts, MaxUserConnectionsBoundsEveryPoolOfTheUser) {
    startSluice("default_pool_size = 5\nmax_user_connections = 2\nserver_idle_timeout = 0.5\n"
                "query_wait_timeout = 3\n",
                serverLine("app") + serverLine("appalias"));
    MaxSampler seen([] { return appBackends(); });
    long long firstMs = 0, secondMs = 0;
    runTwoPoolsUnderOneLimit(
        [this](int pool) { return PqConn(sluice_.conninfo("app", "apppass", pool == 0 ? "app" : "appalias"), 8s); },
        &firstMs, &secondMs);
    seen.stop();
    EXPECT_LE(seen.max(), 2) << "PostgreSQL saw more backends of user app than max_user_connections";
    EXPECT_EQ(seen.max(), 2) << "the first pool never used both allowed servers";
    EXPECT_GE(firstMs, 400);
    EXPECT_LT(secondMs, 2500) << "the second database's pool was not served after the first one's servers idled out"
                              << logTail();
}

TEST_F(TxnTimeouts, ReservePoolOpensOneMoreServerAfterReservePoolTimeout) {
    startSluice("reserve_pool_size = 1\nreserve_pool_timeout = 0.5\n");
    MaxSampler seen([] { return appBackends(); });
    PqConn holder = client(), waiter = client(), third = client();
    ASSERT_TRUE(holder.isOk()) << holder.error() << logTail();
    ASSERT_TRUE(waiter.isOk()) << waiter.error() << logTail();
    ASSERT_TRUE(third.isOk()) << third.error() << logTail();
    ASSERT_TRUE(holder.exec("BEGIN").ok);
    ASSERT_TRUE(holder.exec("SELECT 1").ok);
    ASSERT_EQ(appBackends(), 1);
    const auto queued = Clock::now();
    ASSERT_TRUE(waiter.send("BEGIN; SELECT 'from the reserve'"));
    EXPECT_TRUE(staysUnanswered(waiter, 250ms)) << "served before reserve_pool_timeout";
    QueryResult result = waiter.collect(4s);
    ASSERT_TRUE(result.ok) << result.describe() << logTail();
    EXPECT_EQ(result.value(), "from the reserve");
    EXPECT_GE(elapsedMs(queued), 400);
    EXPECT_EQ(appBackends(), 2);
    // The reserve is one server: with both taken, a third client waits.
    ASSERT_TRUE(third.send("SELECT 'third'"));
    EXPECT_TRUE(staysUnanswered(third, 1200ms)) << "a server beyond pool + reserve was opened";
    ASSERT_TRUE(waiter.exec("COMMIT").ok);
    QueryResult thirdResult = third.collect(4s);
    EXPECT_TRUE(thirdResult.ok) << thirdResult.describe();
    ASSERT_TRUE(holder.exec("COMMIT").ok);
    seen.stop();
    EXPECT_LE(seen.max(), 2);
    // PgBouncer's warning for each server taken from the reserve, which operators grep for.
    EXPECT_EQ(countOf(sluice_.log(), "taking connection from reserve_pool"), 1u) << logTail();
}

// PgBouncer sizes a pool by the pool's user: with a forced user, that user's [users] entry (none
// here, so default_pool_size = 1), never the entry of the user a client logged in as.
TEST_F(TxnTimeouts, ForcedUserPoolIsSizedByTheForcedUserNotByTheClientsUser) {
    startSluice("", serverLine("app", "user=app password=apppass") + "[users]\nsluice_test = pool_size=3\n");
    PqConn holder = client("sluice_test"), waiter = client("sluice_test");
    ASSERT_TRUE(holder.isOk()) << holder.error() << logTail();
    ASSERT_TRUE(waiter.isOk()) << waiter.error() << logTail();
    ASSERT_TRUE(holder.exec("BEGIN").ok);
    ASSERT_EQ(holder.exec("SELECT current_user").value(), "app");
    ASSERT_TRUE(waiter.send("SELECT 'second'"));
    EXPECT_TRUE(staysUnanswered(waiter, 800ms)) << "the pool opened a second server: sized by the client's user";
    EXPECT_EQ(appBackends(), 1);
    ASSERT_TRUE(holder.exec("COMMIT").ok);
    QueryResult second = waiter.collect(4s);
    EXPECT_TRUE(second.ok) << second.describe() << logTail();
}

// query_wait_notify: PgBouncer's NOTICE to a client queued longer than the setting, counted in
// whole seconds as PgBouncer counts them, once per wait.
TEST_F(TxnTimeouts, QueryWaitNotifyTellsAQueuedClientOncePerWait) {
    startSluice("query_wait_notify = 1\n");
    const std::string text = "No server connection available in postgres backend, client being queued";
    PqConn holder = client(), waiter = client();
    ASSERT_TRUE(holder.isOk()) << holder.error() << logTail();
    ASSERT_TRUE(waiter.isOk()) << waiter.error() << logTail();
    auto noticesNow = [&] {  // reads what arrived without waiting for the result
        PQconsumeInput(waiter.raw());
        PQisBusy(waiter.raw());
        return std::count(waiter.notices().begin(), waiter.notices().end(), text);
    };
    ASSERT_TRUE(holder.exec("BEGIN").ok);  // keeps the only server
    ASSERT_TRUE(holder.exec("SELECT 1").ok);
    ASSERT_TRUE(waiter.send("SELECT 'served'"));
    std::this_thread::sleep_for(1200ms);
    EXPECT_EQ(noticesNow(), 0) << "PgBouncer notifies once a whole second more than the setting has passed";
    std::this_thread::sleep_for(1800ms);
    EXPECT_EQ(noticesNow(), 1) << "no NOTICE after 3 s in the queue" << logTail();
    std::this_thread::sleep_for(1000ms);
    ASSERT_TRUE(holder.exec("COMMIT").ok);
    QueryResult served = waiter.collect(4s);
    ASSERT_TRUE(served.ok) << served.describe() << logTail();
    EXPECT_EQ(served.value(), "served");
    EXPECT_EQ(noticesNow(), 1) << "the NOTICE comes once per wait";
    // A wait shorter than the setting says nothing.
    ASSERT_TRUE(holder.exec("BEGIN").ok);
    ASSERT_TRUE(holder.exec("SELECT 1").ok);
    ASSERT_TRUE(waiter.send("SELECT 'again'"));
    std::this_thread::sleep_for(500ms);
    ASSERT_TRUE(holder.exec("COMMIT").ok);
    EXPECT_TRUE(waiter.collect(4s).ok);
    EXPECT_EQ(noticesNow(), 1);
}

TEST_F(TxnTimeouts, MinPoolSizeKeepsServersOpenForAPoolInUse) {
    startSluice("default_pool_size = 5\nmin_pool_size = 3\n");
    PqConn conn = client();
    ASSERT_TRUE(conn.isOk()) << conn.error() << logTail();
    ASSERT_TRUE(conn.exec("SELECT 1").ok);
    // Nobody runs anything now; the pool fills up to min_pool_size by itself.
    EXPECT_TRUE(waitUntil([] { return appBackends() == 3; }, 4s)) << appBackends() << logTail();
    std::this_thread::sleep_for(600ms);
    EXPECT_EQ(appBackends(), 3) << "more than min_pool_size servers were opened without clients asking";
}

TEST_F(TxnTimeouts, MinPoolSizeOpensServersBeforeAnyClientForAForcedUser) {
    // PgBouncer 1.25 keeps min_pool_size for a database with a forced user even before any client.
    startSluice("default_pool_size = 5\nmin_pool_size = 3\n", serverLine("app", "user=app password=apppass"));
    EXPECT_TRUE(waitUntil([] { return appBackends() == 3; }, 4s))
        << "no client yet: PostgreSQL shows " << appBackends() << " backends" << logTail();
    PqConn conn = client();
    ASSERT_TRUE(conn.isOk()) << conn.error() << logTail();
    EXPECT_EQ(conn.exec("SELECT current_user").value(), "app");
}

TEST_F(TxnTimeouts, MinPoolSizeServersAreNotChurnedByServerIdleTimeout) {
    // PgBouncer closes idle servers for server_idle_timeout only above min_pool_size.
    startSluice("default_pool_size = 5\nmin_pool_size = 2\nserver_idle_timeout = 0.3\n");
    PqConn conn = client();
    ASSERT_TRUE(conn.isOk()) << conn.error() << logTail();
    ASSERT_TRUE(conn.exec("SELECT 1").ok);
    ASSERT_TRUE(waitUntil([] { return appBackends() == 2; }, 4s)) << appBackends() << logTail();
    auto pids = [] {
        std::set<int> out;
        PqConn direct(sharedPg().socketConninfo("postgres"));
        QueryResult rows = direct.exec("SELECT pid FROM pg_stat_activity WHERE datname = 'app' AND usename = 'app'");
        for (const auto& row : rows.rows) out.insert(std::stoi(row[0]));
        return out;
    };
    const std::set<int> before = pids();
    std::this_thread::sleep_for(1500ms);
    EXPECT_EQ(pids(), before) << "the min_pool_size servers were closed and reopened" << logTail();
}

// Two pools of one database, each with min_pool_size = 2 under max_db_connections = 2, on two
// workers: as PgBouncer, min_pool_size never evicts another pool's server, so they do not take
// each other's servers at every sweep (which starved their clients).
TEST_F(TxnTimeouts, MinPoolSizeDoesNotEvictAnotherPoolsServers) {
    startSluice("workers = 2\nmax_db_connections = 2\nserver_idle_timeout = 0\n",
                serverLine("app", "min_pool_size=2 pool_size=2"));
    std::vector<PqConn> clients;
    for (int i = 0; i < 4; ++i) {  // both users, likely on both workers
        clients.push_back(i % 2 ? client() : PqConn(sluice_.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "app")));
        ASSERT_TRUE(clients.back().isOk()) << clients.back().error() << logTail();
        ASSERT_TRUE(clients.back().exec("SELECT 1", 10s).ok) << logTail();
    }
    EXPECT_FALSE(waitUntil([&] { return countOf(sluice_.log(), "closing because: evicted") >= 3; }, 2s))
        << "the pools evicted each other's servers over and over" << logTail();
    for (auto& conn : clients) EXPECT_TRUE(conn.exec("SELECT 2", 10s).ok) << logTail();
}

// As PgBouncer: max_user_client_connections counts clients by the user they logged in as, with
// that user's [users] limit, even on a database that forces another user for its servers.
TEST_F(TxnTimeouts, MaxUserClientConnectionsCountsTheLoginUserNotTheForcedUser) {
    startSluice("max_user_client_connections = 1\n[users]\napp = max_user_client_connections=2\n",
                serverLine("app") + serverLine("forced", "user=" + std::string(PgServer::kSuperuser)));
    PqConn first = client("app", "forced"), second = client("app", "forced");
    ASSERT_TRUE(first.isOk()) << first.error() << logTail();
    ASSERT_TRUE(second.isOk()) << "app's own limit is 2: " << second.error() << logTail();
    PqConn third = client("app", "forced");
    EXPECT_FALSE(third.isOk());
    EXPECT_NE(third.error().find("client connections exceeded (max_user_client_connections)"), std::string::npos)
        << third.error();
    PqConn other = client(PgServer::kSuperuser, "forced");
    ASSERT_TRUE(other.isOk()) << "the forced user's own count is apart: " << other.error() << logTail();
    EXPECT_FALSE(client(PgServer::kSuperuser, "forced").isOk()) << "the global limit of 1 for that user";
    first.close();
    EXPECT_TRUE(waitUntil([&] { return client("app", "forced").isOk(); }, 5s)) << "a place came free" << logTail();
}

TEST_F(TxnTimeouts, CancelOfAQueuedClientTakesItOutOfTheQueue) {
    const std::string table = "txn_queued_" + std::to_string(::getpid());
    sharedPg().exec("DROP TABLE IF EXISTS " + table + "; CREATE TABLE " + table + " (n int); ALTER TABLE " + table +
                        " OWNER TO app",
                    "app");
    startSluice("");
    PqConn holder = client(), waiter = client();
    ASSERT_TRUE(holder.isOk()) << holder.error() << logTail();
    ASSERT_TRUE(waiter.isOk()) << waiter.error() << logTail();
    ASSERT_TRUE(holder.exec("BEGIN").ok);
    ASSERT_TRUE(holder.exec("SELECT 1").ok);
    ASSERT_TRUE(waiter.send("INSERT INTO " + table + " VALUES (1)"));
    EXPECT_TRUE(staysUnanswered(waiter, 300ms));
    const auto started = Clock::now();
    ASSERT_TRUE(waiter.cancel()) << waiter.error();
    QueryResult cancelled = waiter.collect(4s);
    EXPECT_FALSE(cancelled.ok);
    EXPECT_EQ(cancelled.sqlstate, "57014") << cancelled.describe() << logTail();
    EXPECT_LT(elapsedMs(started), 1500) << "the queued client was not taken out of the queue at once";
    ASSERT_TRUE(holder.exec("COMMIT").ok);
    // Its INSERT never ran, even once a server was free.
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(holder.exec("SELECT count(*) FROM " + table).value(), "0");
    // The cancelled client is still a working client (as after a cancel in PostgreSQL).
    QueryResult after = waiter.exec("SELECT 'waiter again'", 5s);
    EXPECT_TRUE(after.ok) << after.describe() << logTail();
    sharedPg().exec("DROP TABLE " + table, "app");
}

}  // namespace
}  // namespace sluice::itest
