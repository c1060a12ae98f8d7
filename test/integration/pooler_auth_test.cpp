// Client authentication through Sluice: every auth_type against every kind of secret the
// auth_file can hold (plain text, md5 hash, SCRAM secret), right and wrong passwords, unknown
// users. Sluice logs in to PostgreSQL over its (trusted) unix socket here, so only the client
// side of authentication is under test.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"

namespace sluice::itest {
namespace {

using namespace std::chrono_literals;

enum class Secret { Plain, Md5, Scram };

const char* secretName(Secret secret) {
    switch (secret) {
        case Secret::Plain: return "plain";
        case Secret::Md5: return "md5";
        case Secret::Scram: return "scram";
    }
    return "?";
}

// The auth_file line for app with its password stored as `secret`.
std::string appUserlistLine(Secret secret) {
    PgServer& pg = sharedPg();
    std::string stored;
    switch (secret) {
        case Secret::Plain: stored = PgServer::kAppPassword; break;
        case Secret::Md5:
            stored = "md5" + pg.query1(std::string("SELECT md5('") + PgServer::kAppPassword + PgServer::kAppUser + "')");
            break;
        case Secret::Scram:
            stored = pg.query1("SELECT rolpassword FROM pg_authid WHERE rolname = 'app'");
            break;
    }
    return "\"app\" \"" + stored + "\"\n";
}

// [databases] whose servers are reached over PostgreSQL's unix socket, where it trusts everyone.
std::string trustedDatabases() {
    PgServer& pg = sharedPg();
    return "app = host=" + pg.socketDir() + " port=" + std::to_string(pg.port()) + " dbname=app\n";
}

// The message with the quoted user name taken out, to compare refusals of different users.
std::string withoutUserName(std::string message, const std::string& user) {
    const std::string quoted = "\"" + user + "\"";
    for (auto pos = message.find(quoted); pos != std::string::npos; pos = message.find(quoted)) {
        message.replace(pos, quoted.size(), "\"<user>\"");
    }
    return message;
}

struct AuthCase {
    std::string authType;
    Secret secret;
};

std::string caseName(const ::testing::TestParamInfo<AuthCase>& info) {
    std::string name = info.param.authType + "_with_" + secretName(info.param.secret) + "_secret";
    for (char& c : name) {
        if (c == '-') c = '_';
    }
    return name;
}

class PoolerAuth : public ::testing::TestWithParam<AuthCase> {};

TEST_P(PoolerAuth, RightPasswordWorksWrongPasswordAndUnknownUserAreRefusedAlike) {
    const AuthCase& c = GetParam();
    SluiceProcess sluice;
    sluice.writeFile("userlist.txt", appUserlistLine(c.secret) + "\"sluice_test\" \"secret\"\n");
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(), "auth_type = " + c.authType + "\n", trustedDatabases())));

    PqConn good(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(good.isOk()) << good.error() << "\n" << lastLines(sluice.log(), 20);
    QueryResult result = good.exec("SELECT current_user, current_database()");
    ASSERT_TRUE(result.ok) << result.describe();
    EXPECT_EQ(result.value(0, 0), "app");
    EXPECT_EQ(result.value(0, 1), "app");

    PqConn wrong(sluice.conninfo("app", "not-the-password", "app"));
    EXPECT_FALSE(wrong.isOk());
    EXPECT_EQ(wrong.sqlstate(), "08P01") << wrong.error();
    EXPECT_EQ(wrong.error().find("apppass"), std::string::npos) << "a refusal must not show the secret";

    PqConn empty(sluice.conninfo("app", "", "app"));  // libpq then has no password to send
    EXPECT_FALSE(empty.isOk());

    PqConn ghost(sluice.conninfo("ghost_user_sluice", "apppass", "app"));
    EXPECT_FALSE(ghost.isOk());
    EXPECT_EQ(ghost.sqlstate(), "08P01") << ghost.error();
    // An unknown user must not be told apart from a wrong password. (With md5, a user whose
    // secret is SCRAM's is asked for SCRAM and an unknown one for md5, as PgBouncer does: there
    // the exchange differs already, and each refusal names its own.)
    auto fatalPart = [](const std::string& text) {
        auto pos = text.find("FATAL");
        return pos == std::string::npos ? text : text.substr(pos);
    };
    if (!(c.authType == "md5" && c.secret == Secret::Scram)) {
        EXPECT_EQ(withoutUserName(fatalPart(ghost.error()), "ghost_user_sluice"),
                  withoutUserName(fatalPart(wrong.error()), "app"));
    }

    // Refusals leave Sluice serving.
    PqConn again(sluice.conninfo("app", "apppass", "app"));
    EXPECT_TRUE(again.isOk()) << again.error();
}

INSTANTIATE_TEST_SUITE_P(PoolerAuthMatrix, PoolerAuth,
                         ::testing::Values(AuthCase{"plain", Secret::Plain}, AuthCase{"plain", Secret::Md5},
                                           AuthCase{"plain", Secret::Scram}, AuthCase{"md5", Secret::Plain},
                                           AuthCase{"md5", Secret::Md5}, AuthCase{"md5", Secret::Scram},
                                           AuthCase{"scram-sha-256", Secret::Plain},
                                           AuthCase{"scram-sha-256", Secret::Scram}),
                         caseName);

TEST(PoolerAuthTrust, TrustLetsAnyPasswordInButOnlyForUsersInTheAuthFile) {
    SluiceProcess sluice;
    sluice.writeFile("userlist.txt", "\"app\" \"apppass\"\n");  // only app
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(), "auth_type = trust\n", trustedDatabases())));
    PqConn conn(sluice.conninfo("app", "whatever", "app"));
    ASSERT_TRUE(conn.isOk()) << conn.error();
    EXPECT_EQ(conn.exec("SELECT current_user").value(), "app");
    // PgBouncer's contract for trust: "No authentication is done. The user name must still
    // exist in auth_file." sluice_test exists in PostgreSQL (a superuser) but not in this
    // auth_file, so the pooler itself must refuse it.
    PqConn outsider(sluice.conninfo("sluice_test", "x", "app"));
    EXPECT_FALSE(outsider.isOk()) << "a user missing from auth_file got in with auth_type=trust";
    if (outsider.isOk()) {
        EXPECT_NE(outsider.exec("SELECT current_user").value(), "sluice_test");
    } else {
        EXPECT_EQ(outsider.sqlstate(), "08P01") << outsider.error();
        EXPECT_NE(outsider.error().find("\"trust\" authentication failed"), std::string::npos) << outsider.error();
    }
}

// The primary message of a refused login ("FATAL:  <this>"), without libpq's framing and DETAIL.
std::string fatalMessage(const PqConn& conn) {
    const std::string& text = conn.error();
    const auto start = text.find("FATAL:  ");
    if (start == std::string::npos) return text;
    const auto end = text.find('\n', start);
    return text.substr(start + 8, end == std::string::npos ? std::string::npos : end - start - 8);
}

// PgBouncer 1.25's refusals, word for word and all FATAL 08P01, in its order: the client proves
// who it is before the database is looked up, so a stranger learns nothing about database names.
TEST(PoolerAuthRefusals, PgBouncersTextsAndOrder) {
    auto expectRefused = [](SluiceProcess& sluice, const std::string& user, const std::string& password,
                            const std::string& database, const std::string& message) {
        PqConn conn(sluice.conninfo(user, password, database));
        EXPECT_FALSE(conn.isOk()) << user << "@" << database;
        EXPECT_EQ(conn.sqlstate(), "08P01") << user << "@" << database << ": " << conn.error();
        EXPECT_EQ(fatalMessage(conn), message) << user << "@" << database << ": " << conn.error();
    };
    const std::string databases = trustedDatabases() + "forced = host=" + sharedPg().socketDir() +
                                  " port=" + std::to_string(sharedPg().port()) + " dbname=app user=app\n";
    for (const std::string authType : {"md5", "plain"}) {
        SCOPED_TRACE(authType);
        SluiceProcess sluice;
        sluice.writeFile("userlist.txt", appUserlistLine(Secret::Plain));
        ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(), "auth_type = " + authType + "\n", databases)));
        expectRefused(sluice, "app", "wrong", "app", "password authentication failed");
        expectRefused(sluice, "ghost_user_sluice", "apppass", "app", "password authentication failed");
        expectRefused(sluice, "app", "wrong", "no_such_db_sluice", "password authentication failed");
        expectRefused(sluice, "app", "apppass", "no_such_db_sluice", "no such database: no_such_db_sluice");
    }
    {
        SluiceProcess sluice;
        sluice.writeFile("userlist.txt", appUserlistLine(Secret::Scram));
        ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(), "auth_type = scram-sha-256\n", databases)));
        expectRefused(sluice, "app", "wrong", "app", "SASL authentication failed");
        expectRefused(sluice, "ghost_user_sluice", "apppass", "no_such_db_sluice", "SASL authentication failed");
        expectRefused(sluice, "app", "apppass", "no_such_db_sluice", "no such database: no_such_db_sluice");
    }
    {
        SluiceProcess sluice;
        sluice.writeFile("userlist.txt", appUserlistLine(Secret::Plain));
        ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(), "auth_type = trust\n", databases)));
        expectRefused(sluice, "ghost_user_sluice", "", "app", "\"trust\" authentication failed");
        expectRefused(sluice, "ghost_user_sluice", "", "no_such_db_sluice", "\"trust\" authentication failed");
        expectRefused(sluice, "app", "", "no_such_db_sluice", "no such database: no_such_db_sluice");
    }
    {
        // auth_type = any ignores the user name: only a database with a forced user can serve it.
        SluiceProcess sluice;
        ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(), "auth_type = any\n", databases)));
        expectRefused(sluice, "whoever", "", "app", "bouncer config error");
        EXPECT_NE(sluice.log().find("auth_type=any requires forced user"), std::string::npos) << sluice.log();
        PqConn forced(sluice.conninfo("whoever", "", "forced"));
        ASSERT_TRUE(forced.isOk()) << forced.error() << "\n" << lastLines(sluice.log(), 10);
        EXPECT_EQ(forced.exec("SELECT current_user").value(), "app");
    }
    {
        // PostgreSQL asks the pooler for SCRAM over TCP, and all it has for app is an md5 hash.
        SluiceProcess sluice;
        sluice.writeFile("userlist.txt", appUserlistLine(Secret::Md5));
        PgServer& pg = sharedPg();
        ASSERT_TRUE(sluice.start(basicIni(pg, freePort(), "auth_type = md5\n",
                                          "app = host=" + pg.host() + " port=" + std::to_string(pg.port()) +
                                              " dbname=app\n")));
        expectRefused(sluice, "app", "apppass", "app", "server login failed: wrong password type");
        PqConn again(sluice.conninfo("app", "apppass", "app"));
        EXPECT_NE(again.error().find("DETAIL:  the server asks user \"app\" for a password"), std::string::npos)
            << "what to do about it: " << again.error();
    }
}

TEST(PoolerAuthFile, APasswordWithADoubledQuote) {
    // A password containing a doubled quote, as PgBouncer's userlist escapes it.
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    sluice.writeFile("userlist.txt", "\"app\" \"ap\"\"p\"\n");
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(), "auth_type = md5\n", trustedDatabases())));
    PqConn quoted(sluice.conninfo("app", "ap\"p", "app"));
    EXPECT_TRUE(quoted.isOk()) << quoted.error() << "\n" << lastLines(sluice.log(), 10);
    PqConn old(sluice.conninfo("app", "apppass", "app"));
    EXPECT_EQ(old.sqlstate(), "08P01") << old.error();
}

// SCRAM against a plain password: the derived secret is kept per worker, and a changed password
// (RELOAD) replaces it; the old password must stop working at once.
TEST(PoolerAuthFile, ScramAgainstAPlainPasswordFollowsAChangedPassword) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    const int port = freePort();
    const std::string ini = basicIni(pg, port, "auth_type = scram-sha-256\n", trustedDatabases());
    sluice.writeFile("userlist.txt", "\"app\" \"first-pw\"\n");
    ASSERT_TRUE(sluice.start(ini));
    for (int i = 0; i < 3; ++i) {
        PqConn conn(sluice.conninfo("app", "first-pw", "app"));
        ASSERT_TRUE(conn.isOk()) << "login " << i << ": " << conn.error() << "\n" << lastLines(sluice.log(), 10);
    }
    sluice.writeFile("userlist.txt", "\"app\" \"second-pw\"\n");
    ASSERT_TRUE(sluice.reload(ini));
    bool rotated = false;  // the reload is asynchronous
    for (auto deadline = std::chrono::steady_clock::now() + 3s; !rotated && std::chrono::steady_clock::now() < deadline;
         std::this_thread::sleep_for(50ms))
        rotated = PqConn(sluice.conninfo("app", "second-pw", "app")).isOk();
    EXPECT_TRUE(rotated) << lastLines(sluice.log(), 10);
    PqConn stale(sluice.conninfo("app", "first-pw", "app"));
    EXPECT_EQ(stale.sqlstate(), "08P01") << "the old password still works after the reload: " << stale.error();
}

}  // namespace
}  // namespace sluice::itest
