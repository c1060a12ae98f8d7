// Restart without dropping a client, the container way (issue 15): with so_reuseport the new
// process listens on the same port beside the old one; the old one, sent SIGTERM, stops
// accepting, serves its clients until they leave, and exits. pgbench connected to the old
// process loses nothing; new clients get the new process.
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include "pgbench_util.h"
#include "sluice_process.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

TEST(RollingRestart, ANewProcessTakesThePortWhileTheOldOneFinishesItsClients) {
    const std::string missing = ensurePgbenchTables();
    ASSERT_TRUE(missing.empty()) << missing;
    ASSERT_TRUE(clearAppBackends());
    const int port = freePort();
    // Each process its own unix socket directory (the fixture's): only TCP is shared.
    const std::string ini = basicIni(sharedPg(), port, "pool_mode = transaction\nso_reuseport = 1\ndefault_pool_size = 5\n");
    SluiceProcess before;
    ASSERT_TRUE(before.start(ini));

    const std::string command = "env PGPASSWORD=apppass " + findPgbench() + " -h 127.0.0.1 -p " +
                                std::to_string(port) + " -U app -n -S -c 20 -j 2 -T 8 app";
    RunResult bench;
    std::thread load([&] { bench = run(command, 60); });
    PqConn console(before.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
    EXPECT_TRUE(waitUntil([&] {
        QueryResult clients = console.exec("SHOW CLIENTS");
        return clients.ok && clients.rows.size() >= 21;  // pgbench's 20 and this console
    }, 15s)) << lastLines(before.log(), 10);
    console.close();

    SluiceProcess after;
    ASSERT_TRUE(after.start(ini)) << lastLines(after.log(), 10);
    ASSERT_TRUE(before.signal(SIGTERM));
    ASSERT_TRUE(waitUntil([&] { return before.log().find("got SIGTERM") != std::string::npos; }, 5s));
    // Once the old process has closed its listener (the signal is handled asynchronously), new
    // clients reach the new process. Each try disconnects, so none is left on the old one.
    EXPECT_TRUE(waitUntil([&] {
        PqConn fresh(after.conninfo("app", "apppass", "app"));
        if (fresh.isOk()) fresh.exec("SELECT 'served'");
        return after.log().find("login attempt: db=app user=app") != std::string::npos;
    }, 10s)) << lastLines(after.log(), 10);
    PqConn fresh(after.conninfo("app", "apppass", "app"));
    EXPECT_EQ(fresh.exec("SELECT 'served'").value(), "served");

    load.join();
    const std::string context = "\n$ " + command + "\n" + lastLines(bench.output, 20) + "--- old process:\n" +
                                lastLines(before.log(), 10);
    EXPECT_EQ(bench.status, 0) << context;
    EXPECT_GT(reported(bench.output, "number of transactions actually processed"), 0) << context;
    EXPECT_EQ(reported(bench.output, "number of failed transactions"), 0) << context;
    EXPECT_EQ(bench.output.find("aborted"), std::string::npos) << context;
    // Its clients gone, the old process exits by itself.
    auto code = before.waitExit(15s);
    ASSERT_TRUE(code.has_value()) << "the old process did not exit after its last client" << context;
    EXPECT_EQ(*code, 0);
    EXPECT_NE(before.log().find("client connections dropped, exiting"), std::string::npos);
}

}  // namespace
}  // namespace sluice::itest
