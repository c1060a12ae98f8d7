// Several Sluice processes behind one address (a load balancer, a Kubernetes Service, or
// so_reuseport): a cancel request that reaches the wrong process is forwarded to the one whose
// client it names, through PgBouncer's peer_id and [peers] (issue 14). PQcancel still returns
// only once the query has been signalled, and forwards are bounded in hops.
#include <gtest/gtest.h>

#include <thread>

#include "sluice_process.h"
#include "tcp_relay.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

// Two processes peered as 1 and 2, each listing both (the same [peers] for every config, as
// PgBouncer's docs suggest), reached at `oneHost` and `twoHost`: a unix socket directory or a
// host name.
std::string peeredIni(int peerId, int port, const std::string& oneHost, int onePort, const std::string& twoHost,
                      int twoPort, const std::string& extra = "") {
    std::string ini = basicIni(sharedPg(), port, "peer_id = " + std::to_string(peerId) + "\n" + extra);
    ini += "\n[peers]\n";
    ini += "1 = host=" + oneHost + " port=" + std::to_string(onePort) + "\n";
    ini += "2 = host=" + twoHost + " port=" + std::to_string(twoPort) + "\n";
    return ini;
}

// The load balancer's case: the client's connection went to process 1, its cancel to process 2.
// The peers are given by host name, as across machines.
TEST(Peers, ACancelThatReachesTheWrongProcessIsForwardedToTheRightOne) {
    ASSERT_TRUE(clearAppBackends());
    SluiceProcess one, two;
    const int onePort = freePort(), twoPort = freePort();
    ASSERT_TRUE(one.start(peeredIni(1, onePort, "localhost", onePort, "localhost", twoPort)));
    ASSERT_TRUE(two.start(peeredIni(2, twoPort, "localhost", onePort, "localhost", twoPort)));

    TcpRelay balancer(onePort);
    PqConn client("host=127.0.0.1 port=" + std::to_string(balancer.port()) +
                  " user=app password=apppass dbname=app connect_timeout=10");
    ASSERT_TRUE(client.isOk()) << client.error();
    EXPECT_EQ((client.backendPid() >> 16) & 0xff, 1) << "the key names peer 1 where PgBouncer puts it";
    ASSERT_TRUE(client.send("SELECT pg_sleep(30)"));
    PgCounter counter;
    ASSERT_TRUE(counter.waitForActive("SELECT pg_sleep(30)", 1));

    balancer.retarget(twoPort);
    const auto started = std::chrono::steady_clock::now();
    ASSERT_TRUE(client.cancel()) << client.error();
    QueryResult result = client.collect(10s);
    EXPECT_EQ(result.sqlstate, "57014") << result.describe() << "\n--- process 2:\n" << lastLines(two.log(), 10);
    EXPECT_LT(elapsedMs(started), 10000);
    // Process 2 had no such client: it forwarded, and closed the request once process 1 was done.
    EXPECT_TRUE(waitUntil([&] { return two.log().find("successfully sent cancel request") != std::string::npos; }, 5s))
        << lastLines(two.log(), 10);
    EXPECT_EQ(client.exec("SELECT 'still usable'").value(), "still usable");

    PqConn console(two.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
    QueryResult peers = console.exec("SHOW PEERS");
    ASSERT_TRUE(peers.ok) << peers.error;
    ASSERT_EQ(peers.rows.size(), 2u);
    EXPECT_EQ(peers.rows[0][0], "1");
    EXPECT_EQ(peers.rows[0][1], "localhost");
    EXPECT_EQ(peers.rows[0][2], std::to_string(onePort));
    QueryResult pools = console.exec("SHOW PEER_POOLS");
    ASSERT_TRUE(pools.ok) << pools.error;
    ASSERT_EQ(pools.rows.size(), 2u);
    for (const auto& row : pools.rows)
        for (size_t c = 1; c < row.size(); ++c) EXPECT_EQ(row[c], "0") << "nothing left in flight";
}

// Forged or looping requests cost a lookup: an unknown peer, or a key whose hops are used up,
// is closed with PgBouncer's log line.
TEST(Peers, ForwardsAreBoundedInHopsAndPeers) {
    SluiceProcess one, two;
    const int onePort = freePort(), twoPort = freePort();
    ASSERT_TRUE(two.start(peeredIni(2, twoPort, one.dir(), onePort, two.dir(), twoPort)));
    auto pidNaming = [](int peer) { return static_cast<uint32_t>(0x01000000 | (peer & 0xff) << 16 | (peer >> 8) << 8); };
    {
        RawClient cancel(twoPort);
        ASSERT_TRUE(cancel.send(be32(16) + be32(80877102) + be32(pidNaming(7)) + be32(0x1003)));
        EXPECT_TRUE(cancel.waitClosed(5s));
    }
    EXPECT_TRUE(waitUntil([&] { return two.log().find("could not find peer to forward request to") != std::string::npos; }, 5s))
        << lastLines(two.log(), 10);
    {
        RawClient cancel(twoPort);
        ASSERT_TRUE(cancel.send(be32(16) + be32(80877102) + be32(pidNaming(1)) + be32(0x1000)));  // TTL 0
        EXPECT_TRUE(cancel.waitClosed(5s));
    }
    EXPECT_TRUE(waitUntil([&] {
        return two.log().find("failed to forward cancel request because its TTL was exhausted") != std::string::npos;
    }, 5s)) << lastLines(two.log(), 10);
}

// The case: two processes sharing one port (so_reuseport), each with several workers;
// the kernel spreads both the clients and their cancels, and every cancel works.
TEST(Peers, EveryCancelWorksWhicheverProcessReceivesIt) {
    ASSERT_TRUE(clearAppBackends());
    SluiceProcess one, two;
    const int port = freePort();
    const std::string extra = "so_reuseport = 1\nworkers = 2\ndefault_pool_size = 10\n";
    ASSERT_TRUE(one.start(peeredIni(1, port, one.dir(), port, two.dir(), port, extra)));
    ASSERT_TRUE(two.start(peeredIni(2, port, one.dir(), port, two.dir(), port, extra)));
    constexpr int kQueries = 10;
    std::vector<PqConn> clients;
    for (int i = 0; i < kQueries; ++i) {
        clients.emplace_back("host=127.0.0.1 port=" + std::to_string(port) +
                             " user=app password=apppass dbname=app connect_timeout=10");
        ASSERT_TRUE(clients.back().isOk()) << clients.back().error();
        ASSERT_TRUE(clients.back().send("SELECT pg_sleep(30)"));
    }
    PgCounter counter;
    ASSERT_TRUE(counter.waitForActive("SELECT pg_sleep(30)", kQueries));
    expectEveryCancelToWork(clients);
}

}  // namespace
}  // namespace sluice::itest
