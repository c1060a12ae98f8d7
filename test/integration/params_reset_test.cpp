// Beyond PgBouncer: RESET, RESET ALL, SET … TO DEFAULT and DISCARD ALL give a client back the
// values of its own startup packet, not those the pooler's server connection started with. And
// server_fast_close ends a session between transactions once a reload changed its database.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"

namespace sluice::itest {
namespace {

class ParamsReset : public ::testing::TestWithParam<std::string> {
protected:
    // One worker and one server: each client must get the backend the one before it used
    // (between workers a server moves as a new connection, DESIGN §3).
    void startSluice(const std::string& extra = "") {
        ASSERT_TRUE(sluice_.start(basicIni(sharedPg(), freePort(), "default_pool_size = 1\nworkers = 1\n" + extra)));
    }
    PqConn connectAs(const std::string& applicationName) {
        return PqConn(conninfo({{"host", "127.0.0.1"},
                                {"port", std::to_string(sluice_.port())},
                                {"user", "app"},
                                {"password", "apppass"},
                                {"dbname", "app"},
                                {"sslmode", "disable"},
                                {"application_name", applicationName},
                                {"options", "-c TimeZone=Asia/Tokyo"}}));
    }

    SluiceProcess sluice_;
};

TEST_P(ParamsReset, ResetGivesBackTheStartupValues) {
    startSluice("pool_mode = " + GetParam() + "\n");
    PqConn client = connectAs("reset-app");
    ASSERT_TRUE(client.isOk()) << client.error() << "\n" << sluice_.log();
    ASSERT_EQ(client.exec("SHOW application_name").value(), "reset-app");

    for (const char* reset : {"RESET application_name", "RESET ALL", "SET application_name TO DEFAULT"}) {
        SCOPED_TRACE(reset);
        ASSERT_TRUE(client.exec("SET application_name = 'changed'").ok);
        ASSERT_EQ(client.parameter("application_name"), "changed");
        QueryResult result = client.exec(reset);
        ASSERT_TRUE(result.ok) << result.describe();
        EXPECT_EQ(client.exec("SHOW application_name").value(), "reset-app");
        EXPECT_EQ(client.parameter("application_name"), "reset-app") << "what libpq was told must match SHOW";
    }

    // RESET ALL also covers TimeZone, given as a startup option.
    ASSERT_TRUE(client.exec("SET TimeZone = 'UTC'").ok);
    ASSERT_TRUE(client.exec("RESET ALL").ok);
    EXPECT_EQ(client.exec("SHOW TimeZone").value(), "Asia/Tokyo");

    // Inside a transaction the restore is part of it: a rollback brings the SET value back, as
    // PostgreSQL does with a rolled-back RESET.
    ASSERT_TRUE(client.exec("SET application_name = 'before'").ok);
    ASSERT_TRUE(client.exec("BEGIN").ok);
    ASSERT_TRUE(client.exec("RESET application_name").ok);
    EXPECT_EQ(client.exec("SHOW application_name").value(), "reset-app");
    ASSERT_TRUE(client.exec("ROLLBACK").ok);
    EXPECT_EQ(client.exec("SHOW application_name").value(), "before");
    EXPECT_EQ(client.parameter("application_name"), "before");

    // A pipeline of two statements after the RESET still gets every answer in order.
    QueryResult both = client.exec("RESET application_name; SELECT 42");
    ASSERT_TRUE(both.ok) << both.describe();
    EXPECT_EQ(both.value(), "42");
    EXPECT_EQ(client.exec("SHOW application_name").value(), "reset-app");

    // The next client (same server: pool of one) sees nothing of this one.
    client = PqConn();
    PqConn next = connectAs("next-app");
    ASSERT_TRUE(next.isOk()) << next.error();
    EXPECT_EQ(next.exec("SHOW application_name").value(), "next-app");
    ASSERT_TRUE(next.exec("RESET ALL").ok);
    EXPECT_EQ(next.exec("SHOW application_name").value(), "next-app");
}

INSTANTIATE_TEST_SUITE_P(PoolModes, ParamsReset, ::testing::Values("session", "transaction"));

TEST(ServerFastClose, ReloadEndsAnIdleSessionButNotATransaction) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    const int port = freePort();
    // A changed connect_query is a change of server: existing servers must be replaced.
    auto ini = [&](const std::string& connectQuery) {
        return basicIni(pg, port, "server_fast_close = 1\n",
                        "app = host=127.0.0.1 port=" + std::to_string(pg.port()) + " dbname=app connect_query='" +
                            connectQuery + "'\n");
    };
    ASSERT_TRUE(sluice.start(ini("SELECT 1")));
    PqConn idle(sluice.conninfo("app", "apppass", "app"));
    PqConn busy(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(idle.isOk() && busy.isOk()) << idle.error() << busy.error();
    ASSERT_TRUE(idle.exec("SELECT 1").ok);
    ASSERT_TRUE(busy.exec("BEGIN").ok);

    ASSERT_TRUE(sluice.reload(ini("SELECT 2")));
    std::this_thread::sleep_for(1s);  // the reload, then a sweep or more

    QueryResult afterReload = idle.exec("SELECT 1");
    EXPECT_FALSE(afterReload.ok) << "the idle session should have been ended";
    QueryResult inTransaction = busy.exec("SELECT 2");
    ASSERT_TRUE(inTransaction.ok) << inTransaction.describe() << "\n" << sluice.log();
    ASSERT_TRUE(busy.exec("COMMIT").ok);
    std::this_thread::sleep_for(600ms);
    EXPECT_FALSE(busy.exec("SELECT 3").ok) << "ended once its transaction was over";
    EXPECT_NE(sluice.log().find("server_fast_close"), std::string::npos) << sluice.log();

    // New sessions get fresh servers and work.
    PqConn fresh(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(fresh.isOk()) << fresh.error();
    EXPECT_EQ(fresh.exec("SELECT 4").value(), "4");
}

}  // namespace
}  // namespace sluice::itest
