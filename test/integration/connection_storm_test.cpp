// Chaos (issue 16): a connection storm. 5,000 SCRAM logins reach Sluice within seconds while 50
// clients run pgbench through it: no login fails below max_client_conn, no pgbench transaction
// fails, and afterwards the pooler is back to its quiet state. The busy clients' latency during
// the storm is a benchmark figure (bench/README.md, scenario `storm`), not asserted here.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "admin_util.h"
#include "auth/secret.h"
#include "libpq_logins.h"
#include "pg_server.h"
#include "pgbench_util.h"
#include "pq_util.h"
#include "sluice_process.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

constexpr long kLogins = 5000;
constexpr long kLoginsInFlight = 256;
constexpr int kBusyClients = 50;
// PBKDF2 rounds of app's SCRAM secret in the auth_file. The pooler checks a login with a few
// HMACs whatever the count, but libpq derives the salted password at every login: with
// PostgreSQL's 4096 that is about 3 ms of the test's CPU per login, and 5,000 of them beside
// pgbench on a 2-core machine take half a minute instead of seconds.
constexpr int kScramIterations = 256;
// pgbench runs in rounds of this many seconds until the storm is over: the busy clients cover
// the storm however long it takes (a few seconds here, longer under a sanitizer) and stop soon
// after it, where one long run would have to guess its length.
constexpr int kRoundSeconds = 2;

TEST(ConnectionStorm, FiveThousandScramLoginsBesideFiftyBusyClients) {
    const std::string missing = ensurePgbenchTables();
    ASSERT_TRUE(missing.empty()) << missing;
    const std::string pgbench = findPgbench();
    ASSERT_TRUE(clearAppBackends()) << "backends of an earlier test would not go away";
    // The test holds the client end of every storm connection, Sluice (which inherits the limit)
    // the other.
    const long needed = kLogins + kBusyClients + 500;
    ASSERT_GE(logins::raiseFdLimit(needed), needed) << "the open files limit cannot be raised enough";

    SluiceProcess sluice;
    const std::string secret =
        auth::formatScramSecret(auth::makeScramSecret(PgServer::kAppPassword, "storm-test-salt", kScramIterations));
    sluice.writeFile("userlist.txt", "\"app\" \"" + secret + "\"\n\"" + PgServer::kSuperuser + "\" \"" +
                                         PgServer::kSuperPassword + "\"\n");
    // The auth_file's secret is not PostgreSQL's, so the pooler logs in with the password.
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(),
                                      "auth_type = scram-sha-256\npool_mode = transaction\ndefault_pool_size = 10\n"
                                      "max_client_conn = " + std::to_string(needed) + "\n",
                                      "app = host=127.0.0.1 port=" + std::to_string(sharedPg().port()) +
                                          " dbname=app user=app password=" + PgServer::kAppPassword + "\n")));

    const std::string command = "env PGPASSWORD=apppass " + pgbench + " -h 127.0.0.1 -p " +
                                std::to_string(sluice.port()) + " -U app -n -S -c " + std::to_string(kBusyClients) +
                                " -j 2 -T " + std::to_string(kRoundSeconds) + " app";
    std::vector<RunResult> rounds;
    std::atomic<bool> stormOver{false};
    std::jthread benchThread([&] {  // joined on every way out
        while (!stormOver) {
            rounds.push_back(run(command, 60));
            if (rounds.back().status != 0) break;  // no point going on
        }
    });
    struct StopRounds {
        std::atomic<bool>& over;
        ~StopRounds() { over = true; }  // before benchThread joins, on every way out
    } stopRounds{stormOver};
    ASSERT_TRUE(waitUntil([&] { return rowsForDatabase(sluice, "SHOW CLIENTS") >= kBusyClients; }, 20s))
        << "pgbench's clients never all logged in\n" << lastLines(sluice.log(), 10);

    std::vector<logins::PgConnPtr> storm;
    const logins::LoginReport report = logins::openConnections(
        {sluice.conninfo("app", "apppass", "app") + " gssencmode=disable connect_timeout=30"}, kLogins,
        kLoginsInFlight, std::chrono::seconds(40), storm);
    const int clientsAtPeak = rowsForDatabase(sluice, "SHOW CLIENTS");
    stormOver = true;
    storm.clear();  // every storm client says Terminate and goes
    benchThread.join();

    const std::string sluiceLog = "--- sluice log:\n" + lastLines(sluice.log(), 15);
    EXPECT_EQ(report.failed, 0) << "first error: " << report.firstError << "\n" << sluiceLog;
    EXPECT_EQ(report.ok, kLogins);
    EXPECT_GE(clientsAtPeak, kLogins) << "Sluice did not hold the storm's clients at once";
    std::cout << "[          ] " << kLogins << " SCRAM logins in " << report.seconds << " s beside pgbench -c "
              << kBusyClients << " (" << rounds.size() << " rounds of " << kRoundSeconds << " s)\n";
    for (size_t i = 0; i < rounds.size(); ++i) {
        const RunResult& round = rounds[i];
        const std::string context = "pgbench round " + std::to_string(i + 1) + ":\n" + lastLines(round.output, 15) +
                                    sluiceLog;
        EXPECT_EQ(round.status, 0) << context;
        EXPECT_GT(reported(round.output, "number of transactions actually processed"), 0) << context;
        EXPECT_EQ(reported(round.output, "number of failed transactions"), 0) << context;
        EXPECT_EQ(round.output.find("aborted"), std::string::npos) << context;
    }

    // Back to quiet: no client of app left, nobody waiting, no server busy; a new login works.
    EXPECT_TRUE(waitUntil([&] { return rowsForDatabase(sluice, "SHOW CLIENTS") == 0; }, 20s))
        << "clients left: " << rowsForDatabase(sluice, "SHOW CLIENTS") << "\n" << sluiceLog;
    EXPECT_EQ(poolValue(sluice, "cl_waiting"), 0);
    EXPECT_TRUE(waitUntil([&] { return poolValue(sluice, "sv_active") == 0; }, 10s));
    EXPECT_LE(rowsForDatabase(sluice, "SHOW SERVERS"), 10);
    PqConn after(sluice.conninfo("app", "apppass", "app"));
    EXPECT_EQ(after.exec("SELECT 'after the storm'").value(), "after the storm") << after.error();
}

}  // namespace
}  // namespace sluice::itest
