// Limits that span pools (max_db_connections, max_user_connections) must not starve a pool while
// another pool of the same database or user keeps its servers idle: as PgBouncer, the idle one
// gives its slot up.
#include <gtest/gtest.h>

#include "sluice_process.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

struct Case {
    const char* limit;          // the [pooler] line
    const char* otherUser;      // the second pool's user and password…
    const char* otherPassword;
    const char* otherDatabase;  // …and database
    const char* logged;         // the close reason in the log
};

class PoolLimits : public ::testing::TestWithParam<Case> {};

TEST_P(PoolLimits, AFullLimitClosesAnotherPoolsIdleServerInsteadOfStarving) {
    const Case& c = GetParam();
    ASSERT_TRUE(clearAppBackends());
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(),
                                      std::string(c.limit) + "\npool_mode = transaction\nquery_wait_timeout = 10\n")));
    PqConn first(sluice.conninfo("app", "apppass", "app"));
    ASSERT_EQ(first.exec("SELECT 1").value(), "1") << first.error();  // its server now idles in its pool
    PqConn second(sluice.conninfo(c.otherUser, c.otherPassword, c.otherDatabase));
    const auto started = std::chrono::steady_clock::now();
    auto result = second.exec("SELECT current_user || '@' || current_database()", 15s);
    EXPECT_TRUE(result.ok) << result.describe() << "\n" << lastLines(sluice.log(), 10);
    EXPECT_EQ(result.value(), std::string(c.otherUser) + "@" + c.otherDatabase);
    EXPECT_LT(elapsedMs(started), 5000) << "the second pool waited for the first pool's idle server";
    EXPECT_NE(sluice.log().find(c.logged), std::string::npos) << sluice.log();
    // And back: the first pool gets the slot again the same way.
    EXPECT_EQ(first.exec("SELECT 2", 15s).value(), "2");
}

INSTANTIATE_TEST_SUITE_P(, PoolLimits,
                         ::testing::Values(Case{"max_db_connections = 1", PgServer::kSuperuser, PgServer::kSuperPassword,
                                                "app", "closing because: evicted"},
                                           Case{"max_user_connections = 1", "app", "apppass", "postgres",
                                                "closing because: evicted"}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                             return std::string(info.param.limit).substr(0, std::string(info.param.limit).find(' '));
                         });

// At login too: the auth_query look-up's pool (auth_user on the client's database) holds the one
// server max_db_connections allows once it has looked a user up; the user's own pool needs it
// next, and the look-up for the next user needs it back.
TEST(PoolLimitsAtLogin, TheAuthQueryPoolGivesUpItsIdleServerUnderMaxDbConnections) {
    ASSERT_TRUE(clearAppBackends());
    SluiceProcess sluice;
    sluice.writeFile("userlist.txt", "\"sluice_test\" \"secret\"\n");  // everyone else is looked up
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(),
                                      "max_db_connections = 1\npool_mode = transaction\nquery_wait_timeout = 10\n"
                                      "auth_type = scram-sha-256\nauth_user = sluice_test\n")));
    for (int round = 0; round < 2; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        const auto started = std::chrono::steady_clock::now();
        PqConn app(sluice.conninfo("app", "apppass", "app"), 15s);
        ASSERT_TRUE(app.isOk()) << app.error() << "\n" << lastLines(sluice.log(), 10);
        EXPECT_EQ(app.exec("SELECT current_user", 15s).value(), "app");
        EXPECT_LT(elapsedMs(started), 5000) << "the login waited for the auth pool's idle server";
    }
    // Each round: the auth pool's server makes room for app's, then app's for the next look-up.
    EXPECT_GE(countOf(sluice.log(), "closing because: evicted"), 3u) << sluice.log();
}

}  // namespace
}  // namespace sluice::itest
