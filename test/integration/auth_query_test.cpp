// auth_user + auth_query: a user missing from auth_file is looked up in PostgreSQL through the
// auth user's connection; with the SCRAM secret found there the client logs in, and the server
// login passes its proved keys through. A failing lookup is a clean error, never a hang.
#include <gtest/gtest.h>

#include "pg_server.h"
#include "txn_util.h"
#include "pq_util.h"
#include "sluice_process.h"

namespace sluice::itest {
namespace {

TEST(AuthQuery, AUserMissingFromAuthFileIsLookedUp) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    // Only the auth user is in auth_file.
    sluice.writeFile("userlist.txt", "\"sluice_test\" \"secret\"\n");
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(), "auth_type = scram-sha-256\nauth_user = sluice_test\n",
                                      "app = host=127.0.0.1 port=" + std::to_string(pg.port()) + " dbname=app\n")));
    PqConn app(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(app.isOk()) << app.error() << "\n" << sluice.log();
    EXPECT_EQ(app.exec("SELECT current_user").value(), "app");

    PqConn wrong(sluice.conninfo("app", "wrong", "app"));
    EXPECT_EQ(wrong.sqlstate(), "08P01") << wrong.error();
    EXPECT_NE(wrong.error().find("SASL authentication failed"), std::string::npos) << wrong.error();
    // No row: PgBouncer's "no such user" (it says so, unlike a user missing from auth_file alone).
    PqConn nobody(sluice.conninfo("nobody_here", "x", "app"));
    EXPECT_EQ(nobody.sqlstate(), "08P01") << nobody.error();
    EXPECT_NE(nobody.error().find("FATAL:  no such user"), std::string::npos) << nobody.error();
}

// trust asks no password, but as in PgBouncer the user must exist: one missing from auth_file
// is looked up through auth_query, and refused when PostgreSQL does not know it either.
TEST(AuthQuery, TrustLooksUpAUserMissingFromAuthFile) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    sluice.writeFile("userlist.txt", "\"sluice_test\" \"secret\"\n");
    // The servers log in as the forced user: trust gives the pooler no password of the client's.
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(), "auth_type = trust\nauth_user = sluice_test\n",
                                      "app = host=127.0.0.1 port=" + std::to_string(pg.port()) +
                                          " dbname=app user=sluice_test\n")));
    PqConn app(sluice.conninfo("app", "", "app"));
    ASSERT_TRUE(app.isOk()) << app.error() << "\n" << sluice.log();
    EXPECT_EQ(app.exec("SELECT 1").value(), "1");
    PqConn nobody(sluice.conninfo("nobody_here", "", "app"));
    EXPECT_EQ(nobody.sqlstate(), "08P01") << nobody.error();
    EXPECT_NE(nobody.error().find("FATAL:  no such user"), std::string::npos) << nobody.error();
}

TEST(AuthQuery, AFailingLookupIsACleanError) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    sluice.writeFile("userlist.txt", "\"sluice_test\" \"not-its-password\"\n");
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(),
                                      "auth_type = scram-sha-256\nauth_user = sluice_test\nserver_login_retry = 0\n",
                                      "app = host=127.0.0.1 port=" + std::to_string(pg.port()) + " dbname=app\n")));
    PqConn app(sluice.conninfo("app", "apppass", "app"), 5s);
    EXPECT_FALSE(app.isOk());
    EXPECT_NE(app.error().find("authentication query failed"), std::string::npos) << app.error();
    // A query that errors: as PgBouncer, the client is told "bouncer config error" and nothing of
    // the server's error (it has not logged in); the log has the server's words.
    SluiceProcess broken;
    broken.writeFile("userlist.txt", "\"sluice_test\" \"secret\"\n");
    ASSERT_TRUE(broken.start(basicIni(pg, freePort(),
                                      "auth_type = scram-sha-256\nauth_user = sluice_test\n"
                                      "auth_query = SELECT no_such_column FROM pg_authid WHERE rolname = $1\n",
                                      "app = host=127.0.0.1 port=" + std::to_string(pg.port()) + " dbname=app\n")));
    PqConn again(broken.conninfo("app", "apppass", "app"), 5s);
    EXPECT_FALSE(again.isOk());
    EXPECT_EQ(again.sqlstate(), "08P01") << again.error();
    EXPECT_NE(again.error().find("bouncer config error"), std::string::npos) << again.error();
    EXPECT_EQ(again.error().find("no_such_column"), std::string::npos) << "the schema leaked: " << again.error();
    EXPECT_NE(broken.log().find("S: error in auth_query: column \"no_such_column\" does not exist"), std::string::npos)
        << lastLines(broken.log(), 10);
}

// auth_dbname serves the admin console too: a stats user missing from auth_file logs in to it
// through auth_query, run in the auth database.
TEST(AuthQuery, TheConsoleLooksUpItsUsersInTheAuthDatabase) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    sluice.writeFile("userlist.txt", "\"sluice_test\" \"secret\"\n");
    ASSERT_TRUE(sluice.start(basicIni(
        pg, freePort(), "auth_type = scram-sha-256\nauth_user = sluice_test\nauth_dbname = postgres\nstats_users = app\n")));
    PqConn console(sluice.conninfo("app", "apppass", "pgbouncer"));
    ASSERT_TRUE(console.isOk()) << console.error() << "\n" << sluice.log();
    EXPECT_TRUE(console.exec("SHOW POOLS").ok);
    PqConn wrong(sluice.conninfo("app", "wrong", "pgbouncer"));
    EXPECT_FALSE(wrong.isOk());
}

// The console's pseudo-database cannot be an auth database: refused in [pooler] at load, and
// on a database entry at the login that needs it, with PgBouncer's "bouncer config error".
TEST(AuthQuery, TheConsoleIsNoAuthDatabase) {
    PgServer& pg = sharedPg();
    SluiceProcess refused;
    EXPECT_FALSE(refused.start(basicIni(pg, freePort(), "auth_user = sluice_test\nauth_dbname = pgbouncer\n"), {},
                               5s));
    EXPECT_NE(refused.log().find("auth_dbname"), std::string::npos) << refused.log();

    SluiceProcess sluice;
    sluice.writeFile("userlist.txt", "\"sluice_test\" \"secret\"\n");
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(), "auth_type = scram-sha-256\nauth_user = sluice_test\n",
                                      "app = host=127.0.0.1 port=" + std::to_string(pg.port()) +
                                          " dbname=app auth_dbname=pgbouncer\n")));
    PqConn app(sluice.conninfo("app", "apppass", "app"));
    EXPECT_FALSE(app.isOk());
    EXPECT_NE(app.error().find("bouncer config error"), std::string::npos) << app.error();
    EXPECT_NE(sluice.log().find("cannot use the reserved \"pgbouncer\" database as an auth_dbname"), std::string::npos)
        << sluice.log();
}

// A RELOAD that makes the console the auth database is refused too, and the running
// configuration stays.
TEST(AuthQuery, AReloadMakingTheConsoleTheAuthDatabaseIsRefused) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort())));
    PqConn console(sluice.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
    ASSERT_TRUE(console.isOk()) << console.error();
    sluice.writeFile("pooler.ini", basicIni(pg, sluice.port(), "auth_user = sluice_test\nauth_dbname = pgbouncer\n"));
    QueryResult reload = console.exec("RELOAD");
    EXPECT_FALSE(reload.ok);
    EXPECT_NE(reload.error.find("RELOAD failed, see logs for additional details"), std::string::npos)
        << reload.describe();
    EXPECT_NE(sluice.log().find("auth_dbname"), std::string::npos) << sluice.log();
    QueryResult config = console.exec("SHOW CONFIG");
    std::string authDbname = "(no row)";
    for (const auto& row : config.rows)
        if (row[0] == "auth_dbname") authDbname = row[1];
    EXPECT_EQ(authDbname, "") << "the old configuration stays";
    PqConn app(sluice.conninfo("app", "apppass", "app"));
    EXPECT_TRUE(app.isOk()) << app.error();
}

// An auth_dbname missing from [databases] is reached through the "*" entry, as that database:
// the look-up runs in it, never in the client's database. The auth_query here finds a user only
// when it runs in database postgres.
TEST(AuthQuery, AnAuthDatabaseReachedThroughTheStarEntry) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    sluice.writeFile("userlist.txt", "\"sluice_test\" \"secret\"\n");
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(),
                                      "auth_type = scram-sha-256\nauth_user = sluice_test\nauth_dbname = postgres\n"
                                      "auth_query = SELECT usename, passwd FROM pg_shadow WHERE usename = $1 "
                                      "AND current_database() = 'postgres'\n",
                                      "* = host=127.0.0.1 port=" + std::to_string(pg.port()) + "\n")));
    PqConn app(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(app.isOk()) << app.error() << "\n" << lastLines(sluice.log(), 10);
    EXPECT_EQ(app.exec("SELECT current_database()").value(), "app");
}

}  // namespace
}  // namespace sluice::itest
