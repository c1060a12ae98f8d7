// SCRAM pass-through: with only PostgreSQL's own SCRAM secret in auth_file (no password anywhere),
// a client that proves it knows the password lets the pooler log in to PostgreSQL with the keys
// it proved.
#include <gtest/gtest.h>

#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"

namespace sluice::itest {
namespace {

TEST(ScramPassthrough, ServerLoginUsesTheKeysTheClientProved) {
    PgServer& pg = sharedPg();
    const std::string secret = pg.query1("SELECT rolpassword FROM pg_authid WHERE rolname = 'app'");
    ASSERT_EQ(secret.rfind("SCRAM-SHA-256$", 0), 0u) << "test premise: PostgreSQL stores a SCRAM secret";
    SluiceProcess sluice;
    sluice.writeFile("userlist.txt", "\"app\" \"" + secret + "\"\n");
    const int port = freePort();
    ASSERT_TRUE(sluice.start(basicIni(pg, port, "auth_type = scram-sha-256\n",
                                      "app = host=127.0.0.1 port=" + std::to_string(pg.port()) + " dbname=app\n")));

    PqConn wrong(sluice.conninfo("app", "not-the-password", "app"));
    EXPECT_FALSE(wrong.isOk());
    EXPECT_EQ(wrong.sqlstate(), "08P01") << wrong.error();

    PqConn client(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(client.isOk()) << client.error() << "\n" << sluice.log();
    // Answered by a server connection the pooler logged in with the client's proved keys.
    EXPECT_EQ(client.exec("SELECT current_user").value(), "app");
    EXPECT_EQ(readTextFile(sluice.dir() + "/userlist.txt").find("apppass"), std::string::npos);
}

}  // namespace
}  // namespace sluice::itest
