// auth_type = hba: the rules of auth_hba_file allow and reject as written, per connection type,
// address, database and user; hostssl needs TLS; peer checks the unix socket's user.
#include <pwd.h>
#include <unistd.h>

#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"
#include "tls_certs.h"

namespace sluice::itest {
namespace {

TEST(Hba, RulesAllowAndRejectAsWritten) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    const TestCertificates certs = makeCertificates(sluice.dir(), "app");
    const std::string me = getpwuid(::getuid())->pw_name;
    sluice.writeFile("hba.conf",
                     "local   pgbouncer  " + me + "     peer\n"
                     "local   all        all           trust\n"
                     "hostssl app        app           127.0.0.1/32   scram-sha-256\n"
                     "host    all        sluice_test   127.0.0.0 255.0.0.0  md5\n"
                     "host    all        all           all            reject\n");
    const int port = freePort();
    ASSERT_TRUE(sluice.start(basicIni(pg, port,
                                      "auth_type = hba\nauth_hba_file = @DIR@/hba.conf\nadmin_users = " + me +
                                          "\nclient_tls_sslmode = allow\nclient_tls_key_file = " + certs.serverKey +
                                          "\nclient_tls_cert_file = " + certs.serverCert + "\n")));
    auto tcp = [&](const std::string& user, const std::string& password, const std::string& sslmode) {
        return PqConn(conninfo({{"host", "127.0.0.1"}, {"port", std::to_string(port)}, {"user", user},
                                {"password", password}, {"dbname", "app"}, {"sslmode", sslmode}}));
    };

    PqConn md5 = tcp("sluice_test", "secret", "disable");
    ASSERT_TRUE(md5.isOk()) << md5.error() << "\n" << sluice.log();
    EXPECT_EQ(md5.exec("SELECT current_user").value(), "sluice_test");
    PqConn wrong = tcp("sluice_test", "nope", "disable");
    EXPECT_EQ(wrong.sqlstate(), "08P01") << wrong.error();

    PqConn plain = tcp("app", "apppass", "disable");
    EXPECT_FALSE(plain.isOk());
    EXPECT_EQ(plain.sqlstate(), "28000") << plain.error();
    EXPECT_NE(plain.error().find("no hba rule"), std::string::npos) << plain.error();
    PqConn overTls = tcp("app", "apppass", "require");
    ASSERT_TRUE(overTls.isOk()) << "hostssl matches a TLS client: " << overTls.error();
    EXPECT_EQ(overTls.exec("SELECT 1").value(), "1");

    PqConn trusted(conninfo({{"host", sluice.dir()}, {"port", std::to_string(port)}, {"user", "app"},
                             {"dbname", "app"}}));
    ASSERT_TRUE(trusted.isOk()) << "local trust: " << trusted.error();

    PqConn peer(conninfo({{"host", sluice.dir()}, {"port", std::to_string(port)}, {"user", me},
                          {"dbname", "pgbouncer"}}));
    ASSERT_TRUE(peer.isOk()) << "peer: the unix socket's user is " << me << ": " << peer.error();
    EXPECT_EQ(peer.exec("SHOW VERSION").value().rfind("Sluice ", 0), 0u);
    PqConn impostor(conninfo({{"host", sluice.dir()}, {"port", std::to_string(port)}, {"user", "app"},
                              {"dbname", "pgbouncer"}}));
    EXPECT_FALSE(impostor.isOk()) << "local trust lets app in, but app is no console user";
}

// "user1,user2 , user3": blanks around a list's commas do not end the list (PgBouncer reads it
// so; a file written for it must mean the same here).
TEST(Hba, BlanksAroundCommasInAUserList) {
    SluiceProcess sluice;
    sluice.writeFile("hba.conf", "host  all  nobody1,app , sluice_test  127.0.0.1/32  md5\n");
    const int port = freePort();
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), port, "auth_type = hba\nauth_hba_file = @DIR@/hba.conf\n")))
        << sluice.log();
    const std::pair<std::string, std::string> logins[] = {{"app", "apppass"}, {"sluice_test", "secret"}};
    for (const auto& [user, password] : logins) {
        PqConn conn(conninfo({{"host", "127.0.0.1"}, {"port", std::to_string(port)}, {"user", user},
                              {"password", password}, {"dbname", "app"}, {"sslmode", "disable"}}));
        ASSERT_TRUE(conn.isOk()) << user << ": " << conn.error() << "\n" << sluice.log();
        EXPECT_EQ(conn.exec("SELECT current_user").value(), user);
    }
}

TEST(Hba, ABrokenRuleFileIsAnErrorWithFileAndLine) {
    SluiceProcess sluice;
    sluice.writeFile("hba.conf", "host all all nowhere md5\n");
    const std::string ini = basicIni(sharedPg(), freePort(), "auth_type = hba\nauth_hba_file = @DIR@/hba.conf\n");
    EXPECT_FALSE(sluice.start(ini, {}, 3s));
    EXPECT_NE(sluice.log().find("hba.conf:1: invalid address 'nowhere'"), std::string::npos) << sluice.log();
}

}  // namespace
}  // namespace sluice::itest

namespace sluice::itest {
namespace {

TEST(Hba, CertRuleWithAnIdentMap) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    const TestCertificates certs = makeCertificates(sluice.dir(), "app");
    sluice.writeFile("hba.conf", "hostssl all all 127.0.0.1/32 cert map=certs\n");
    sluice.writeFile("ident.conf", "certs  app  sluice_test\n");
    const int port = freePort();
    ASSERT_TRUE(sluice.start(basicIni(pg, port,
                                      "auth_type = hba\nauth_hba_file = @DIR@/hba.conf\nauth_ident_file = "
                                      "@DIR@/ident.conf\nclient_tls_sslmode = verify-ca\nclient_tls_key_file = " +
                                          certs.serverKey + "\nclient_tls_cert_file = " + certs.serverCert +
                                          "\nclient_tls_ca_file = " + certs.caCert + "\n")));
    auto withCertificate = [&](const std::string& user) {
        return PqConn(conninfo({{"host", "127.0.0.1"}, {"port", std::to_string(port)}, {"user", user},
                                {"dbname", "app"}, {"sslmode", "require"}, {"sslcert", certs.clientCert},
                                {"sslkey", certs.clientKey}}));
    };
    PqConn mapped = withCertificate("sluice_test");
    ASSERT_TRUE(mapped.isOk()) << "CN app maps to sluice_test: " << mapped.error() << "\n" << sluice.log();
    EXPECT_EQ(mapped.exec("SELECT current_user").value(), "sluice_test");
    PqConn unmapped = withCertificate("app");
    EXPECT_FALSE(unmapped.isOk()) << "with a map, the CN alone is not enough";
    EXPECT_EQ(unmapped.sqlstate(), "28000") << unmapped.error();
}

}  // namespace
}  // namespace sluice::itest
