// TLS on both sides against real libpq and a real TLS-enabled PostgreSQL: client_tls_sslmode
// require / verify-ca, libpq verify-full, auth_type=cert, a certificate swapped by RELOAD,
// PostgreSQL 17's direct TLS with ALPN, and server_tls_sslmode=verify-full.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"
#include "tls_certs.h"

namespace sluice::itest {
namespace {

class Tls : public ::testing::Test {
protected:
    void SetUp() override { certs_ = makeCertificates(sluice_.dir(), "app"); }

    std::string tlsLines(const std::string& mode, const TestCertificates& certs) const {
        return "client_tls_sslmode = " + mode + "\nclient_tls_key_file = " + certs.serverKey +
               "\nclient_tls_cert_file = " + certs.serverCert + "\nclient_tls_ca_file = " + certs.caCert + "\n";
    }
    void startSluice(const std::string& extra) {
        port_ = freePort();
        ASSERT_TRUE(sluice_.start(basicIni(sharedPg(), port_, extra)));
    }
    std::string conn(const std::string& user, const std::string& password, const std::string& sslmode,
                     const std::string& host = "127.0.0.1", const std::string& rootCert = "",
                     const TestCertificates* clientCert = nullptr) const {
        return conninfo({{"host", host},
                         {"port", std::to_string(port_)},
                         {"user", user},
                         {"password", password},
                         {"dbname", "app"},
                         {"sslmode", sslmode},
                         {"sslrootcert", rootCert},
                         {"sslcert", clientCert ? clientCert->clientCert : ""},
                         {"sslkey", clientCert ? clientCert->clientKey : ""},
                         {"connect_timeout", "5"}});
    }

    SluiceProcess sluice_;
    TestCertificates certs_;
    int port_ = 0;
};

TEST_F(Tls, RequireServesTlsClientsAndRefusesPlaintextOnes) {
    startSluice(tlsLines("require", certs_));
    PqConn tls(conn("app", "apppass", "require"));
    ASSERT_TRUE(tls.isOk()) << tls.error() << "\n" << sluice_.log();
    EXPECT_EQ(PQsslInUse(tls.raw()), 1);
    EXPECT_EQ(tls.exec("SELECT 40 + 2").value(), "42");

    PqConn verified(conn("app", "apppass", "verify-full", "localhost", certs_.caCert));
    ASSERT_TRUE(verified.isOk()) << verified.error();
    EXPECT_EQ(verified.exec("SELECT 1").value(), "1");

    PqConn plain(conn("app", "apppass", "disable"));
    EXPECT_FALSE(plain.isOk());
    EXPECT_NE(plain.error().find("SSL required"), std::string::npos) << plain.error();

    // The unix socket is local: no TLS there, as in PgBouncer.
    PqConn local(conninfo({{"host", sluice_.dir()}, {"port", std::to_string(port_)}, {"user", "app"},
                           {"password", "apppass"}, {"dbname", "app"}}));
    ASSERT_TRUE(local.isOk()) << local.error();
    EXPECT_NE(sluice_.log().find("tls=TLSv1."), std::string::npos) << "login lines name the TLS version";
}

TEST_F(Tls, WrongCaIsRejectedByTheClient) {
    startSluice(tlsLines("prefer", certs_));
    const TestCertificates other = makeCertificates(sluice_.dir(), "app", "other");
    PqConn wrong(conn("app", "apppass", "verify-full", "localhost", other.caCert));
    EXPECT_FALSE(wrong.isOk());
    EXPECT_NE(wrong.error().find("certificate verify failed"), std::string::npos) << wrong.error();
    PqConn plain(conn("app", "apppass", "disable"));  // prefer: plaintext still allowed
    EXPECT_TRUE(plain.isOk()) << plain.error();
}

TEST_F(Tls, CertAuthenticationMatchesTheCommonName) {
    startSluice(tlsLines("verify-ca", certs_) + "auth_type = cert\n");
    PqConn app(conn("app", "", "require", "127.0.0.1", "", &certs_));
    ASSERT_TRUE(app.isOk()) << app.error() << "\n" << sluice_.log();
    EXPECT_EQ(app.exec("SELECT current_user").value(), "app");

    PqConn other(conn("sluice_test", "", "require", "127.0.0.1", "", &certs_));
    EXPECT_FALSE(other.isOk());
    EXPECT_EQ(other.sqlstate(), "28000") << other.error();
    EXPECT_NE(other.error().find("certificate authentication failed"), std::string::npos) << other.error();

    PqConn noCertificate(conn("app", "", "require"));
    EXPECT_FALSE(noCertificate.isOk()) << "verify-ca demands a client certificate";
}

TEST_F(Tls, ReloadPicksUpACertificateSwappedOnDisk) {
    const TestCertificates second = makeCertificates(sluice_.dir(), "app", "second");
    const std::string cert = sluice_.dir() + "/live.crt", key = sluice_.dir() + "/live.key";
    std::filesystem::copy_file(certs_.serverCert, cert);
    std::filesystem::copy_file(certs_.serverKey, key);
    TestCertificates live = certs_;
    live.serverCert = cert;
    live.serverKey = key;
    const std::string ini = basicIni(sharedPg(), port_ = freePort(), tlsLines("require", live));
    ASSERT_TRUE(sluice_.start(ini));
    PqConn before(conn("app", "apppass", "verify-full", "localhost", certs_.caCert));
    ASSERT_TRUE(before.isOk()) << before.error();

    std::filesystem::copy_file(second.serverCert, cert, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(second.serverKey, key, std::filesystem::copy_options::overwrite_existing);
    ASSERT_TRUE(sluice_.reload(ini));
    std::this_thread::sleep_for(400ms);
    PqConn after(conn("app", "apppass", "verify-full", "localhost", second.caCert));
    ASSERT_TRUE(after.isOk()) << after.error() << "\n" << sluice_.log();
    PqConn oldCa(conn("app", "apppass", "verify-full", "localhost", certs_.caCert));
    EXPECT_FALSE(oldCa.isOk()) << "the new certificate is not signed by the old CA";
    EXPECT_EQ(before.exec("SELECT 1").value(), "1") << "connections made before the reload carry on";
}

// PostgreSQL 17's direct TLS: the ClientHello comes first, with ALPN "postgresql".
int directTlsHandshake(int port, bool withAlpn, std::string* firstMessageType) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = SSL_new(ctx);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    int result = -1;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        static const unsigned char alpn[] = {10, 'p', 'o', 's', 't', 'g', 'r', 'e', 's', 'q', 'l'};
        if (withAlpn) SSL_set_alpn_protos(ssl, alpn, sizeof alpn);
        SSL_set_fd(ssl, fd);
        if (SSL_connect(ssl) == 1) {
            const std::string startup = startupPacket({{"user", "app"}, {"database", "app"}});
            SSL_write(ssl, startup.data(), static_cast<int>(startup.size()));
            char type = 0;
            result = SSL_read(ssl, &type, 1) == 1 ? 1 : 0;
            if (result == 1) *firstMessageType = std::string(1, type);
        }
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ::close(fd);
    return result;
}

TEST_F(Tls, DirectTlsNeedsAlpnPostgresql) {
    startSluice(tlsLines("require", certs_));
    std::string type;
    ASSERT_EQ(directTlsHandshake(port_, true, &type), 1) << sluice_.log();
    EXPECT_EQ(type, "R") << "the pooler asks for the password after a direct TLS startup";
    type.clear();
    EXPECT_NE(directTlsHandshake(port_, false, &type), 1) << "no ALPN: the connection must be closed";
    EXPECT_TRUE(type.empty());
    EXPECT_NE(sluice_.log().find("ALPN"), std::string::npos) << sluice_.log();
}

// A PostgreSQL of its own that speaks TLS with a certificate of `certs`.
void startTlsPostgres(PgServer& pg, const TestCertificates& certs) {
    PgServerOptions options;
    options.tlsCertFile = certs.serverCert;
    options.tlsKeyFile = certs.serverKey;
    pg.start(options);
}

TEST(TlsToServer, VerifyFullAgainstATlsPostgres) {
    SluiceProcess sluice;
    const TestCertificates certs = makeCertificates(sluice.dir(), "app");
    PgServer pg;
    startTlsPostgres(pg, certs);
    const int port = freePort();
    const std::string databases = "app = host=127.0.0.1 port=" + std::to_string(pg.port()) + " dbname=app\n";
    ASSERT_TRUE(sluice.start(basicIni(pg, port,
                                      "server_tls_sslmode = verify-full\nserver_tls_ca_file = " + certs.caCert + "\n",
                                      databases)));
    PqConn client(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(client.isOk()) << client.error() << "\n" << sluice.log();
    EXPECT_EQ(client.exec("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").value(), "t")
        << "the pooler's server connection is encrypted";

    // A pooler that trusts another CA refuses that server, with the reason.
    SluiceProcess wary;
    const TestCertificates other = makeCertificates(wary.dir(), "app", "other");
    ASSERT_TRUE(wary.start(basicIni(pg, freePort(),
                                    "server_tls_sslmode = verify-full\nserver_tls_ca_file = " + other.caCert + "\n",
                                    databases)));
    PqConn refused(wary.conninfo("app", "apppass", "app"));
    EXPECT_FALSE(refused.isOk());
    EXPECT_NE(refused.error().find("certificate verif"), std::string::npos) << refused.error();
}

// As PgBouncer: TLS settings SET at runtime apply to new server connections, servers made with
// the old settings are replaced, as after a changed host; settings that do not build (an unknown
// cipher list) are kept with a NOTICE, and the TLS in use stays.
TEST(TlsToServer, SettingsSetAtRuntimeApplyOnceConsistentAndReplaceTheServers) {
    SluiceProcess sluice;
    const TestCertificates certs = makeCertificates(sluice.dir(), "app");
    PgServer pg;
    startTlsPostgres(pg, certs);
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(), "pool_mode = transaction\nserver_tls_sslmode = disable\n",
                                      "app = host=127.0.0.1 port=" + std::to_string(pg.port()) + " dbname=app\n")));
    const std::string encrypted = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
    PqConn client(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(client.isOk()) << client.error();
    EXPECT_EQ(client.exec(encrypted).value(), "f");

    PqConn console(sluice.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
    ASSERT_TRUE(console.isOk()) << console.error();
    // verify-full without server_tls_ca_file checks the server against the system's trusted CAs,
    // as PgBouncer does; they do not know the test CA, so the new servers are refused.
    QueryResult mode = console.exec("SET server_tls_sslmode = 'verify-full'");
    ASSERT_TRUE(mode.ok) << mode.describe();
    EXPECT_TRUE(console.notices().empty()) << console.notices().back();
    QueryResult unverified = client.exec(encrypted, 10s);
    EXPECT_FALSE(unverified.ok) << "a certificate of an unknown CA passed verify-full";
    const size_t noticesBefore = console.notices().size();
    QueryResult ca = console.exec("SET server_tls_ca_file = '" + certs.caCert + "'");
    ASSERT_TRUE(ca.ok) << ca.describe();
    EXPECT_EQ(console.notices().size(), noticesBefore) << "consistent: applied without a notice";
    client = PqConn(sluice.conninfo("app", "apppass", "app"));
    EXPECT_EQ(client.exec(encrypted).value(), "t") << "the old plaintext server was replaced\n" << sluice.log();
    EXPECT_EQ(console.exec("SHOW CONFIG").ok, true);

    // A TLS 1.3 cipher list OpenSSL does not know: kept as a value, the TLS in use stays.
    QueryResult bogus = console.exec("SET server_tls13_ciphers = 'NOT_A_CIPHER'");
    ASSERT_TRUE(bogus.ok) << bogus.describe();
    EXPECT_GT(console.notices().size(), noticesBefore);
    EXPECT_EQ(client.exec(encrypted).value(), "t");
}

// A server login refused under the old TLS settings (PostgreSQL wants TLS; the pooler had it off)
// is not held against the new ones for server_login_retry: as PgBouncer, the pools start afresh.
TEST(TlsToServer, ASetThatTurnsTlsOnForgetsALoginFailureWithoutIt) {
    SluiceProcess sluice;
    const TestCertificates certs = makeCertificates(sluice.dir(), "app");
    PgServerOptions options;
    options.tlsCertFile = certs.serverCert;
    options.tlsKeyFile = certs.serverKey;
    options.leadingHba = {"hostnossl all app 127.0.0.1/32 reject"};
    PgServer pg;
    pg.start(options);
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(), "server_tls_sslmode = disable\nserver_login_retry = 60\n",
                                      "app = host=127.0.0.1 port=" + std::to_string(pg.port()) + " dbname=app\n")));
    PqConn refused(sluice.conninfo("app", "apppass", "app"));
    QueryResult plain = refused.exec("SELECT 1", 10s);
    EXPECT_FALSE(refused.isOk() && plain.ok) << "PostgreSQL took a plaintext login it rejects";
    PqConn console(sluice.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
    ASSERT_TRUE(console.exec("SET server_tls_sslmode = 'require'").ok);
    PqConn client(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(client.isOk()) << client.error() << "\n" << lastLines(sluice.log(), 10);
    EXPECT_EQ(client.exec("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", 10s).value(), "t")
        << lastLines(sluice.log(), 10);
}

}  // namespace
}  // namespace sluice::itest

namespace sluice::itest {
namespace {

TEST_F(Tls, ScramWithChannelBindingOverTls) {
    startSluice(tlsLines("require", certs_) + "auth_type = scram-sha-256\n");
    auto scram = [&](const std::string& channelBinding) {
        return PqConn(conninfo({{"host", "127.0.0.1"}, {"port", std::to_string(port_)}, {"user", "app"},
                                {"password", "apppass"}, {"dbname", "app"}, {"sslmode", "require"},
                                {"channel_binding", channelBinding}}));
    };
    PqConn bound = scram("require");
    ASSERT_TRUE(bound.isOk()) << "SCRAM-SHA-256-PLUS with tls-server-end-point: " << bound.error() << "\n"
                              << sluice_.log();
    EXPECT_EQ(bound.exec("SELECT 1").value(), "1");
    PqConn unbound = scram("disable");
    ASSERT_TRUE(unbound.isOk()) << "plain SCRAM-SHA-256 over TLS stays allowed: " << unbound.error();
    PqConn wrongPassword = PqConn(conninfo({{"host", "127.0.0.1"}, {"port", std::to_string(port_)}, {"user", "app"},
                                            {"password", "nope"}, {"dbname", "app"}, {"sslmode", "require"},
                                            {"channel_binding", "require"}}));
    EXPECT_EQ(wrongPassword.sqlstate(), "08P01") << wrongPassword.error();
}

}  // namespace
}  // namespace sluice::itest
