// Tests of the integration fixture itself: if these fail, no other integration test means much.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"

namespace sluice::itest {
namespace {

using Clock = std::chrono::steady_clock;

bool sluiceBinaryExists() { return std::filesystem::exists(SluiceProcess::defaultBinary()); }

// ---- pure helpers ----

TEST(PqUtil, ConninfoQuotesValuesAndSkipsEmptyOnes) {
    EXPECT_EQ(conninfo({{"host", "127.0.0.1"}, {"password", ""}, {"user", "o'neil\\x"}}),
              "host='127.0.0.1' user='o\\'neil\\\\x'");
    EXPECT_EQ(conninfo({}), "");
}

TEST(PqUtil, SqlstateIsParsedFromVerboseMessages) {
    EXPECT_EQ(sqlstateFromVerboseMessage("connection to server at \"127.0.0.1\", port 5 failed: FATAL:  28P01: "
                                         "password authentication failed for user \"app\"\nLOCATION:  x.c:1\n"),
              "28P01");
    EXPECT_EQ(sqlstateFromVerboseMessage("ERROR:  42P01: relation \"t\" does not exist"), "42P01");
    EXPECT_EQ(sqlstateFromVerboseMessage("FATAL:  password authentication failed"), "");
    EXPECT_EQ(sqlstateFromVerboseMessage("could not connect to server: Connection refused"), "");
    EXPECT_EQ(sqlstateFromVerboseMessage("FATAL:  28P0"), "");  // truncated
    EXPECT_EQ(sqlstateFromVerboseMessage(""), "");
}

TEST(PqUtil, QueryResultAccessorsAreSafeOutOfRange) {
    QueryResult result;
    EXPECT_EQ(result.value(), "");
    EXPECT_EQ(result.value(3, 7), "");
    EXPECT_FALSE(result.isNull(0, 0));
    result.sqlstate = "42601";
    result.error = "syntax error";
    EXPECT_EQ(result.describe(), "42601: syntax error");
}

TEST(BasicIni, ExtraLinesReplaceDefaultsForTheSameKey) {
    PgServer unstarted;  // only host() and port() are read
    std::string ini = basicIni(unstarted, 6543, "pool_mode = transaction\nDefault_Pool_Size=2\n");
    EXPECT_NE(ini.find("[databases]\napp = host=127.0.0.1"), std::string::npos) << ini;
    EXPECT_NE(ini.find("listen_port = 6543\n"), std::string::npos) << ini;
    EXPECT_NE(ini.find("pool_mode = transaction\n"), std::string::npos) << ini;
    EXPECT_EQ(ini.find("pool_mode = session"), std::string::npos) << ini;
    EXPECT_EQ(ini.find("default_pool_size = 5"), std::string::npos) << ini;
    EXPECT_NE(ini.find("auth_file = @DIR@/userlist.txt"), std::string::npos) << ini;
}

TEST(BasicIni, DatabasesLinesReplaceTheDefaultDatabases) {
    PgServer unstarted;
    std::string ini = basicIni(unstarted, 1, "", "only = host=127.0.0.1 port=1 dbname=x");
    EXPECT_NE(ini.find("[databases]\nonly = host=127.0.0.1 port=1 dbname=x\n\n[pooler]\n"), std::string::npos) << ini;
    EXPECT_EQ(ini.find("app ="), std::string::npos) << ini;
}

// ---- PostgreSQL ----

TEST(PgServerFixture, StartsAndAnswersOverTheUnixSocket) {
    PgServer& pg = sharedPg();
    EXPECT_TRUE(pg.isRunning());
    EXPECT_GT(pg.port(), 0);
    EXPECT_EQ(pg.query1("SELECT 1 + 1"), "2");
    EXPECT_EQ(pg.query1("SHOW fsync"), "off");
    EXPECT_EQ(pg.query1("SELECT rolsuper::text FROM pg_roles WHERE rolname = 'sluice_test'"), "true");
    EXPECT_EQ(pg.query1("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'"), "app");
}

TEST(PgServerFixture, AppLogsInOverTcpWithItsPassword) {
    PgServer& pg = sharedPg();
    PqConn conn(pg.tcpConninfo("app", "apppass", "app"));
    ASSERT_TRUE(conn.isOk()) << conn.error();
    EXPECT_GT(conn.backendPid(), 0);
    EXPECT_EQ(conn.parameter("server_encoding"), "UTF8");
    QueryResult result = conn.exec("SELECT current_user, current_database(), NULL::text AS nothing");
    ASSERT_TRUE(result.ok) << result.describe();
    ASSERT_EQ(result.rows.size(), 1u);
    EXPECT_EQ(result.columns, (std::vector<std::string>{"current_user", "current_database", "nothing"}));
    EXPECT_EQ(result.value(0, 0), "app");
    EXPECT_EQ(result.value(0, 1), "app");
    EXPECT_TRUE(result.isNull(0, 2));
    EXPECT_EQ(result.commandTag, "SELECT 1");
    // The password really is checked over TCP (SCRAM), not trusted.
    EXPECT_EQ(pg.query1("SELECT left(rolpassword, 13) FROM pg_authid WHERE rolname = 'app'"), "SCRAM-SHA-256");
}

TEST(PgServerFixture, WrongPasswordIsRefusedWithItsSqlstate) {
    PgServer& pg = sharedPg();
    PqConn conn;
    EXPECT_FALSE(conn.connect(pg.tcpConninfo("app", "wrong", "app")));
    EXPECT_FALSE(conn.isOk());
    EXPECT_EQ(conn.sqlstate(), "28P01") << conn.error();
    EXPECT_NE(conn.error().find("password authentication failed"), std::string::npos) << conn.error();
    EXPECT_EQ(conn.error().find("LOCATION"), std::string::npos) << conn.error();
}

TEST(PgServerFixture, UnknownDatabaseIsRefusedWithItsSqlstate) {
    PgServer& pg = sharedPg();
    PqConn conn(pg.tcpConninfo("app", "apppass", "no_such_db"));
    EXPECT_FALSE(conn.isOk());
    EXPECT_EQ(conn.sqlstate(), "3D000") << conn.error();
}

TEST(PgServerFixture, ConnectionRefusedHasNoSqlstateAndDoesNotHang) {
    int port = freePort();  // nothing listens there
    auto started = Clock::now();
    PqConn conn;
    EXPECT_FALSE(conn.connect(conninfo({{"host", "127.0.0.1"}, {"port", std::to_string(port)}}), 3s));
    EXPECT_EQ(conn.sqlstate(), "");
    EXPECT_FALSE(conn.error().empty());
    EXPECT_LT(elapsedMs(started), 3000);
}

TEST(PgServerFixture, SqlErrorsCarrySqlstateAndLeaveTheConnectionUsable) {
    PqConn conn(sharedPg().tcpConninfo("app", "apppass", "app"));
    ASSERT_TRUE(conn.isOk()) << conn.error();
    QueryResult bad = conn.exec("SELECT * FROM no_such_table");
    EXPECT_FALSE(bad.ok);
    EXPECT_EQ(bad.sqlstate, "42P01");
    EXPECT_NE(bad.error.find("no_such_table"), std::string::npos) << bad.error;
    // In a multi-statement query the first error is reported.
    QueryResult multi = conn.exec("SELECT 1; SELECT 1/0; SELECT 2");
    EXPECT_EQ(multi.sqlstate, "22012") << multi.describe();
    QueryResult good = conn.exec("SELECT 'still here'");
    EXPECT_TRUE(good.ok) << good.describe();
    EXPECT_EQ(good.value(), "still here");
}

TEST(PgServerFixture, NoticesAreCollected) {
    PqConn conn(sharedPg().tcpConninfo("app", "apppass", "app"));
    ASSERT_TRUE(conn.isOk()) << conn.error();
    ASSERT_TRUE(conn.exec("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$").ok);
    ASSERT_EQ(conn.notices().size(), 1u);
    EXPECT_EQ(conn.notices()[0], "hello 42");
}

TEST(PgServerFixture, CopyOutRowsAreReturnedAndCopyInIsRefusedCleanly) {
    PqConn conn(sharedPg().tcpConninfo("app", "apppass", "app"));
    ASSERT_TRUE(conn.isOk()) << conn.error();
    QueryResult out = conn.exec("COPY (SELECT g, 'x' FROM generate_series(1, 3) g) TO STDOUT");
    ASSERT_TRUE(out.ok) << out.describe();
    EXPECT_EQ(out.rows.size(), 3u);
    EXPECT_EQ(out.value(2, 0), "3\tx");
    ASSERT_TRUE(conn.exec("CREATE TEMP TABLE t (a int)").ok);
    QueryResult in = conn.exec("COPY t FROM STDIN");
    EXPECT_FALSE(in.ok);
    EXPECT_EQ(in.sqlstate, "57014") << in.describe();
    EXPECT_TRUE(conn.exec("SELECT 1").ok);
}

TEST(PgServerFixture, ExecGivesUpAfterItsTimeoutInsteadOfHanging) {
    PqConn conn(sharedPg().tcpConninfo("app", "apppass", "app"));
    ASSERT_TRUE(conn.isOk()) << conn.error();
    auto started = Clock::now();
    QueryResult result = conn.exec("SELECT pg_sleep(20)", 300ms);
    EXPECT_FALSE(result.ok);
    EXPECT_NE(result.error.find("no complete result"), std::string::npos) << result.error;
    EXPECT_LT(elapsedMs(started), 5000);
    EXPECT_FALSE(conn.isOk());  // its state was unknown, so it was closed
}

TEST(PgServerFixture, CancelStopsARunningQuery) {
    PqConn conn(sharedPg().tcpConninfo("app", "apppass", "app"));
    ASSERT_TRUE(conn.isOk()) << conn.error();
    ASSERT_TRUE(conn.send("SELECT pg_sleep(20)")) << conn.error();
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(conn.cancel()) << conn.error();
    QueryResult result = conn.collect(10s);
    EXPECT_EQ(result.sqlstate, "57014") << result.describe();
    EXPECT_TRUE(conn.exec("SELECT 1").ok);
}

TEST(PgServerFixture, BackendCountSeesOpenConnections) {
    PgServer& pg = sharedPg();
    int before = pg.backendCount("app", "app");
    PqConn a(pg.tcpConninfo("app", "apppass", "app"));
    PqConn b(pg.tcpConninfo("app", "apppass", "app"));
    ASSERT_TRUE(a.isOk() && b.isOk()) << a.error() << b.error();
    EXPECT_EQ(pg.backendCount("app", "app"), before + 2);
    EXPECT_THROW(pg.exec("SELECT * FROM no_such_table"), std::runtime_error);
}

TEST(PgServerFixture, Md5ServerStoresMd5AndSurvivesARestart) {
    PgServer pg;
    PgServerOptions options;
    options.tcpAuth = "md5";
    options.extraConf = {"log_connections = on"};
    options.maxConnections = 20;
    pg.start(options);
    EXPECT_EQ(pg.query1("SHOW max_connections"), "20");
    EXPECT_EQ(pg.query1("SHOW log_connections"), "on");
    EXPECT_EQ(pg.query1("SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = 'app'"), "md5");
    {
        PqConn conn(pg.tcpConninfo("app", "apppass", "app"));
        ASSERT_TRUE(conn.isOk()) << conn.error();
        PqConn wrong(pg.tcpConninfo("app", "nope", "app"));
        EXPECT_EQ(wrong.sqlstate(), "28P01") << wrong.error();

        int port = pg.port();
        pg.stop();
        EXPECT_FALSE(pg.isRunning());
        QueryResult broken = conn.exec("SELECT 1", 5s);
        EXPECT_FALSE(broken.ok);  // the server went away under an open connection
        EXPECT_FALSE(PqConn(pg.tcpConninfo("app", "apppass", "app"), 3s).isOk());

        pg.restart();
        EXPECT_EQ(pg.port(), port);
        PqConn again(pg.tcpConninfo("app", "apppass", "app"));
        EXPECT_TRUE(again.isOk()) << again.error();
    }
    std::string dir = pg.socketDir();
    EXPECT_TRUE(std::filesystem::exists(dir));
    EXPECT_NE(pg.logContents().find("connection authorized"), std::string::npos);
}

// ---- SluiceProcess ----

constexpr const char* kTinyIni = "[pooler]\nlisten_addr = 127.0.0.1\nlisten_port = 1\n";

TEST(SluiceProcessFixture, FailsFastWhenTheProcessExitsBeforeListening) {
    SluiceProcess process("/bin/false");
    auto started = Clock::now();
    ::testing::AssertionResult result = process.start(kTinyIni, {}, 10s);
    EXPECT_FALSE(result);
    EXPECT_LT(elapsedMs(started), 5000);
    EXPECT_NE(std::string(result.message()).find("exited with status 1 before listening on 127.0.0.1:1"),
              std::string::npos)
        << result.message();
    EXPECT_FALSE(process.isRunning());
    EXPECT_EQ(process.waitExit(0ms), 1);
}

TEST(SluiceProcessFixture, ReportsAMissingBinary) {
    SluiceProcess process("/nonexistent/sluice");
    ::testing::AssertionResult result = process.start(kTinyIni);
    EXPECT_FALSE(result);
    EXPECT_NE(std::string(result.message()).find("exited with status 127"), std::string::npos) << result.message();
    EXPECT_NE(std::string(result.message()).find("execv failed"), std::string::npos) << result.message();
}

TEST(SluiceProcessFixture, KillsAProcessThatNeverListensAndShowsItsOutput) {
    // sh -c SCRIPT INI: the ini path becomes $0, so this stands in for a daemon that hangs.
    SluiceProcess process("/bin/sh");
    auto started = Clock::now();
    ::testing::AssertionResult result =
        process.start(kTinyIni, {"-c", "echo \"stuck with $0\"; exec sleep 30"}, 1s);
    EXPECT_FALSE(result);
    EXPECT_LT(elapsedMs(started), 5000);
    std::string message = result.message();
    EXPECT_NE(message.find("did not listen on 127.0.0.1:1 within 1000 ms"), std::string::npos) << message;
    EXPECT_NE(message.find("stuck with " + process.iniPath()), std::string::npos) << message;
    EXPECT_FALSE(process.isRunning());
    EXPECT_EQ(process.pid(), -1);
}

TEST(SluiceProcessFixture, WritesTheIniWithDirSubstitutedAndADefaultUserlist) {
    SluiceProcess process("/bin/false");
    EXPECT_FALSE(process.start("[pooler]\nauth_file = @DIR@/userlist.txt\nlisten_port = 7\n"));
    EXPECT_EQ(readTextFile(process.iniPath()),
              "[pooler]\nauth_file = " + process.dir() + "/userlist.txt\nlisten_port = 7\n");
    EXPECT_EQ(process.port(), 7);
    EXPECT_EQ(readTextFile(process.dir() + "/userlist.txt"), defaultUserlist());
    EXPECT_NE(defaultUserlist().find("\"app\" \"apppass\""), std::string::npos);

    SluiceProcess custom("/bin/false");
    std::string path = custom.writeFile("userlist.txt", "\"x\" \"y\"\n");
    EXPECT_EQ(path, custom.dir() + "/userlist.txt");
    EXPECT_FALSE(custom.start(kTinyIni));
    EXPECT_EQ(readTextFile(path), "\"x\" \"y\"\n");  // a test's own userlist is kept
}

TEST(SluiceProcessFixture, TempDirIsRemovedWithTheObject) {
    std::string dir;
    {
        SluiceProcess process("/bin/false");
        dir = process.dir();
        EXPECT_TRUE(std::filesystem::is_directory(dir));
    }
    if (std::getenv("SLUICE_TEST_KEEP") == nullptr) {
        EXPECT_FALSE(std::filesystem::exists(dir));
    }
}

TEST(SluiceProcessFixture, RealSluiceRejectsAnInvalidIniQuickly) {
    if (!sluiceBinaryExists()) GTEST_SKIP() << SluiceProcess::defaultBinary() << " is not built yet";
    SluiceProcess process;
    auto started = Clock::now();
    ::testing::AssertionResult result =
        process.start("[pooler]\nlisten_addr = 127.0.0.1\nlisten_port = 6\npool_mode = sometimes\n", {}, 10s);
    EXPECT_FALSE(result);
    EXPECT_NE(std::string(result.message()).find("before listening"), std::string::npos)
        << "an invalid ini must make sluice exit, not hang: " << result.message();
    EXPECT_LT(elapsedMs(started), 9000);
    std::optional<int> code = process.waitExit(0ms);
    ASSERT_TRUE(code.has_value());
    EXPECT_NE(*code, 0);
}

TEST(SluiceProcessFixture, RealSluiceServesAQueryWithTheBasicIni) {
    if (!sluiceBinaryExists()) GTEST_SKIP() << SluiceProcess::defaultBinary() << " is not built yet";
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort())));
    EXPECT_TRUE(sluice.isRunning());
    EXPECT_GT(sluice.pid(), 0);
    {
        PqConn conn(sluice.conninfo("app", "apppass", "app"));
        ASSERT_TRUE(conn.isOk()) << conn.error() << "\n" << sluice.log();
        QueryResult result = conn.exec("SELECT current_user, current_database()");
        ASSERT_TRUE(result.ok) << result.describe() << "\n" << sluice.log();
        EXPECT_EQ(result.value(0, 0), "app");
        EXPECT_EQ(result.value(0, 1), "app");
    }
    std::optional<int> code = sluice.stop();
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 0) << sluice.log();
}

}  // namespace
}  // namespace sluice::itest
