// Bad input during authentication and TLS, by hand on a raw socket: malformed or truncated SASL
// messages, a wrong mechanism, garbage in place of a proof, a TLS handshake that is garbage or
// stalls. Each gets a clear error or a closed connection, never a login, and the pooler serves on.
#include <gtest/gtest.h>

#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"
#include "tls_certs.h"

namespace sluice::itest {
namespace {

class AuthBadInput : public ::testing::Test {
protected:
    void start(const std::string& extra) {
        port_ = freePort();
        ASSERT_TRUE(sluice_.start(basicIni(sharedPg(), port_, "auth_type = scram-sha-256\n" + extra)));
    }
    // Sends a startup packet for app and reads the AuthenticationSASL request.
    void startSasl(RawClient& client) {
        ASSERT_TRUE(client.connected());
        ASSERT_TRUE(client.send(startupPacket({{"user", "app"}, {"database", "app"}})));
        auto request = client.readMessage();
        ASSERT_TRUE(request && request->type == 'R') << "no authentication request";
        ASSERT_EQ(readBe32(request->body, 0), 10u) << "AuthenticationSASL expected";
    }
    std::string saslInitial(const std::string& mechanism, const std::string& data) {
        return message('p', mechanism + std::string(1, '\0') + be32(static_cast<uint32_t>(data.size())) + data);
    }
    // The error the pooler sent before closing; "" when it closed without one.
    std::string sqlstateThenClosed(RawClient& client) {
        auto error = client.readUntil('E');
        std::string sqlstate = error ? errorFields(error->body)['C'] : "";
        EXPECT_TRUE(client.waitClosed(3s)) << "the connection should be closed";
        return sqlstate;
    }
    void stillServes() {
        PqConn ok(sluice_.conninfo("app", "apppass", "app"));
        ASSERT_TRUE(ok.isOk()) << ok.error() << "\n" << lastLines(sluice_.log(), 20);
        EXPECT_EQ(ok.exec("SELECT 1").value(), "1");
    }

    SluiceProcess sluice_;
    int port_ = 0;
};

TEST_F(AuthBadInput, WrongMechanismTruncatedAndGarbageSaslMessages) {
    start("");
    {
        RawClient client(port_);
        startSasl(client);
        ASSERT_TRUE(client.send(saslInitial("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=abc")));
        EXPECT_EQ(sqlstateThenClosed(client), "08P01");
    }
    {
        RawClient client(port_);
        startSasl(client);
        // The declared data length runs past the message.
        ASSERT_TRUE(client.send(message('p', std::string("SCRAM-SHA-256") + '\0' + be32(1000) + "n,,n=,r=x")));
        EXPECT_EQ(sqlstateThenClosed(client), "08P01");
    }
    {
        RawClient client(port_);
        startSasl(client);
        ASSERT_TRUE(client.send(saslInitial("SCRAM-SHA-256", "this is not scram")));
        EXPECT_EQ(sqlstateThenClosed(client), "08P01");
    }
    {
        RawClient client(port_);
        startSasl(client);
        ASSERT_TRUE(client.send(saslInitial("SCRAM-SHA-256", "n,,n=,r=clientnonce")));
        auto cont = client.readMessage();
        ASSERT_TRUE(cont && cont->type == 'R' && readBe32(cont->body, 0) == 11u);
        // A final message with the wrong nonce and a made-up proof.
        ASSERT_TRUE(client.send(message('p', "c=biws,r=someoneelse,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")));
        const std::string state = sqlstateThenClosed(client);
        EXPECT_TRUE(state == "28P01" || state == "08P01") << state;
    }
    {
        RawClient client(port_);
        startSasl(client);
        ASSERT_TRUE(client.send(queryMessage("SELECT 1")));  // skipping authentication
        EXPECT_EQ(sqlstateThenClosed(client), "08P01");
    }
    stillServes();
}

TEST_F(AuthBadInput, TlsGarbageAndStallsAreClosed) {
    const TestCertificates certs = makeCertificates(sluice_.dir(), "app");
    start("client_login_timeout = 1\nclient_tls_sslmode = allow\nclient_tls_key_file = " + certs.serverKey +
          "\nclient_tls_cert_file = " + certs.serverCert + "\n");
    {
        RawClient client(port_);
        ASSERT_TRUE(client.send(be32(8) + be32(80877103)));  // SSLRequest
        auto answer = client.readExact(1);
        ASSERT_TRUE(answer.has_value());
        ASSERT_EQ(*answer, "S");
        ASSERT_TRUE(client.send(std::string(64, '\x16') + "garbage, not a ClientHello"));
        EXPECT_TRUE(client.waitClosed(3s));
    }
    {
        RawClient client(port_);
        ASSERT_TRUE(client.send(std::string("\x16\x03\x01\x00\x05") + "junk!"));  // direct TLS, garbage record
        EXPECT_TRUE(client.waitClosed(3s));
    }
    {
        RawClient client(port_);
        ASSERT_TRUE(client.send(be32(8) + be32(80877103)));
        ASSERT_EQ(client.readExact(1).value_or(""), "S");
        // Then nothing: client_login_timeout ends it.
        EXPECT_TRUE(client.waitClosed(4s)) << "a stalled handshake must not hold the connection";
    }
    stillServes();
}

}  // namespace
}  // namespace sluice::itest
