// Sluice at the byte level: raw TCP clients that send malformed, oversized, half or no startup
// packets, SSL/GSS negotiation, the authentication request each auth_type sends, and that every
// refusal is an ErrorResponse with the right SQLSTATE followed by a closed connection — while
// well-behaved libpq clients keep being served. Also client limits and unreachable servers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kSslRequestCode = 80877103;
constexpr uint32_t kGssEncRequestCode = 80877104;

// Sends `bytes` as the whole first thing on a fresh connection and expects an ErrorResponse
// with `sqlstate`, then the connection closed. Returns the error's message ('M').
std::string expectRefusal(int port, const std::string& bytes, const std::string& sqlstate) {
    RawClient client(port);
    EXPECT_TRUE(client.connected());
    EXPECT_TRUE(client.send(bytes));
    auto msg = client.readMessage();
    EXPECT_TRUE(msg.has_value()) << "no answer (expected ErrorResponse " << sqlstate << ")";
    if (!msg) return "";
    EXPECT_EQ(msg->type, 'E') << "body: " << msg->body;
    auto fields = errorFields(msg->body);
    EXPECT_EQ(fields['C'], sqlstate) << "message: " << fields['M'];
    EXPECT_TRUE(fields['S'] == "FATAL" || fields['S'] == "ERROR") << fields['S'];
    EXPECT_FALSE(fields['M'].empty());
    EXPECT_TRUE(client.waitClosed(5s)) << "connection not closed after the error " << sqlstate;
    return fields['M'];
}

class PoolerWire : public ::testing::Test {
protected:
    void startSluice(const std::string& extra = "") {
        ASSERT_TRUE(sluice_.start(basicIni(sharedPg(), freePort(), extra)));
    }
    // A libpq client that logs in and runs a query: "" when all went well, else why not.
    std::string normalClientProblem() {
        PqConn conn(sluice_.conninfo("app", "apppass", "app"));
        if (!conn.isOk()) return "connect: " + conn.error();
        QueryResult result = conn.exec("SELECT 'fine'");
        if (!result.ok || result.value() != "fine") return "query: " + result.describe();
        return "";
    }

    SluiceProcess sluice_;
};

TEST_F(PoolerWire, StartupLengthTooSmallIsAProtocolViolation) {
    startSluice();
    expectRefusal(sluice_.port(), be32(3) + be32(kProtocol30), "08P01");
    expectRefusal(sluice_.port(), be32(0) + be32(0), "08P01");
    EXPECT_EQ(normalClientProblem(), "") << lastLines(sluice_.log(), 20);
}

TEST_F(PoolerWire, OversizedStartupPacketIsRefusedWithoutWaitingForIt) {
    startSluice();
    // Only the header: the pooler must not wait for 20000 bytes that will never come.
    auto started = Clock::now();
    expectRefusal(sluice_.port(), be32(20000) + be32(kProtocol30), "08P01");
    EXPECT_LT(elapsedMs(started), 4000);
    expectRefusal(sluice_.port(), be32(0x7fffffff) + be32(kProtocol30), "08P01");
    EXPECT_EQ(normalClientProblem(), "") << lastLines(sluice_.log(), 20);
}

TEST_F(PoolerWire, UnsupportedProtocolVersionIs0A000) {
    startSluice();
    expectRefusal(sluice_.port(), startupPacket({{"user", "app"}, {"database", "app"}}, 0x00020000), "0A000");
    expectRefusal(sluice_.port(), startupPacket({{"user", "app"}, {"database", "app"}}, 0x00040000), "0A000");
    EXPECT_EQ(normalClientProblem(), "") << lastLines(sluice_.log(), 20);
}

TEST_F(PoolerWire, MalformedStartupParametersAreProtocolViolations) {
    startSluice();
    // No user at all: PostgreSQL's answer is 28000 "no PostgreSQL user name specified".
    expectRefusal(sluice_.port(), startupPacket({{"database", "app"}}), "28000");
    // Parameters not terminated by the final NUL.
    std::string body = be32(kProtocol30) + std::string("user\0app", 8);
    expectRefusal(sluice_.port(), be32(static_cast<uint32_t>(body.size() + 4)) + body, "08P01");
    EXPECT_EQ(normalClientProblem(), "") << lastLines(sluice_.log(), 20);
}

TEST_F(PoolerWire, SilentClientIsClosedAfterClientLoginTimeout) {
    startSluice("client_login_timeout = 1\n");
    RawClient silent(sluice_.port());
    ASSERT_TRUE(silent.connected());
    // While it sits there, others are served at once.
    EXPECT_EQ(normalClientProblem(), "") << lastLines(sluice_.log(), 20);
    auto started = Clock::now();
    EXPECT_TRUE(silent.waitClosed(6s)) << "a client that sends nothing was not closed\n" << lastLines(sluice_.log(), 20);
    EXPECT_LT(elapsedMs(started), 6000);
    // A client that stops half way through its startup packet is closed the same way.
    RawClient half(sluice_.port());
    ASSERT_TRUE(half.connected());
    std::string packet = startupPacket({{"user", "app"}, {"database", "app"}});
    ASSERT_TRUE(half.send(packet.substr(0, 10)));
    EXPECT_TRUE(half.waitClosed(6s)) << lastLines(sluice_.log(), 20);
    EXPECT_EQ(normalClientProblem(), "") << lastLines(sluice_.log(), 20);
    EXPECT_TRUE(sluice_.isRunning());
}

TEST_F(PoolerWire, ClientsVanishingMidLoginDoNotDisturbOthers) {
    startSluice();
    PqConn busy(sluice_.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(busy.isOk()) << busy.error();
    ASSERT_TRUE(busy.exec("CREATE TEMP TABLE sluice_wire (n int)").ok);
    const std::string packet = startupPacket({{"user", "app"}, {"database", "app"}});
    for (int i = 0; i < 20; ++i) {
        {
            RawClient vanishing(sluice_.port());
            ASSERT_TRUE(vanishing.connected());
            // Half a startup packet (and, every other time, only part of the length word).
            vanishing.send(packet.substr(0, i % 2 == 0 ? packet.size() / 2 : 2));
        }  // closed here
        {
            // Another one that gets its md5 challenge and then leaves.
            RawClient leaving(sluice_.port());
            ASSERT_TRUE(leaving.connected());
            ASSERT_TRUE(leaving.send(packet));
            auto challenge = leaving.readMessage();
            ASSERT_TRUE(challenge.has_value());
            EXPECT_EQ(challenge->type, 'R');
        }
        QueryResult insert = busy.exec("INSERT INTO sluice_wire VALUES (" + std::to_string(i) + ")");
        ASSERT_TRUE(insert.ok) << insert.describe() << "\n" << lastLines(sluice_.log(), 20);
    }
    EXPECT_EQ(busy.exec("SELECT count(*) FROM sluice_wire").value(), "20");
    EXPECT_EQ(normalClientProblem(), "") << lastLines(sluice_.log(), 20);
    EXPECT_TRUE(sluice_.isRunning());
}

TEST_F(PoolerWire, SslRequestGetsNThenAPlainStartupWorksOnTheSameSocket) {
    startSluice("auth_type = trust\n");
    RawClient client(sluice_.port());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.send(be32(8) + be32(kSslRequestCode)));
    auto answer = client.readExact(1);
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(*answer, "N");
    ASSERT_TRUE(client.send(startupPacket({{"user", "app"}, {"database", "app"}})));
    auto auth = client.readMessage();
    ASSERT_TRUE(auth.has_value());
    ASSERT_EQ(auth->type, 'R');
    EXPECT_EQ(readBe32(auth->body, 0), 0u) << "AuthenticationOk expected with auth_type=trust";
    std::map<std::string, std::string> parameters;
    std::optional<Message> msg;
    for (msg = client.readMessage(); msg && msg->type != 'Z'; msg = client.readMessage()) {
        if (msg->type == 'S') {
            std::size_t nul = msg->body.find('\0');
            parameters[msg->body.substr(0, nul)] = msg->body.substr(nul + 1, msg->body.find('\0', nul + 1) - nul - 1);
        }
        EXPECT_NE(msg->type, 'E') << errorFields(msg->body)['M'];
    }
    ASSERT_TRUE(msg.has_value()) << "no ReadyForQuery after login";
    EXPECT_EQ(msg->body, "I");
    EXPECT_EQ(parameters["server_encoding"], "UTF8");
    EXPECT_FALSE(parameters["server_version"].empty());

    ASSERT_TRUE(client.send(message('Q', std::string("SELECT 40 + 2\0", 14))));
    auto row = client.readUntil('D');
    ASSERT_TRUE(row.has_value());
    // DataRow: int16 column count, int32 length, value.
    EXPECT_EQ(row->body.substr(6), "42");
    auto ready = client.readUntil('Z');
    ASSERT_TRUE(ready.has_value());
    // Terminate closes the connection.
    ASSERT_TRUE(client.send(message('X', "")));
    EXPECT_TRUE(client.waitClosed(5s));
}

TEST_F(PoolerWire, GssEncRequestGetsNAndASecondSslRequestIsRefused) {
    startSluice("auth_type = trust\n");
    {
        RawClient client(sluice_.port());
        ASSERT_TRUE(client.send(be32(8) + be32(kGssEncRequestCode)));
        auto answer = client.readExact(1);
        ASSERT_TRUE(answer.has_value());
        EXPECT_EQ(*answer, "N");
        ASSERT_TRUE(client.send(startupPacket({{"user", "app"}, {"database", "app"}})));
        auto ready = client.readUntil('Z');
        EXPECT_TRUE(ready.has_value());
    }
    {
        RawClient client(sluice_.port());
        ASSERT_TRUE(client.send(be32(8) + be32(kSslRequestCode)));
        auto answer = client.readExact(1);
        ASSERT_TRUE(answer.has_value());
        EXPECT_EQ(*answer, "N");
        ASSERT_TRUE(client.send(be32(8) + be32(kSslRequestCode)));
        auto error = client.readMessage();
        ASSERT_TRUE(error.has_value());
        EXPECT_EQ(error->type, 'E');
        EXPECT_EQ(errorFields(error->body)['C'], "08P01");
        EXPECT_TRUE(client.waitClosed(5s));
    }
}

TEST_F(PoolerWire, FailedLoginsGetAnErrorAndAClosedConnection) {
    startSluice();  // auth_type = md5
    const std::string garbage = message('p', "md5" + std::string(32, '0') + '\0');
    std::string wrongMessage, ghostMessage;
    for (const std::string user : {"app", "ghost_user_sluice"}) {
        RawClient client(sluice_.port());
        ASSERT_TRUE(client.send(startupPacket({{"user", user}, {"database", "app"}})));
        auto challenge = client.readMessage();
        ASSERT_TRUE(challenge.has_value());
        ASSERT_EQ(challenge->type, 'R');
        // An unknown user gets the same md5 challenge, so it cannot be told apart.
        EXPECT_EQ(readBe32(challenge->body, 0), 5u) << user;
        EXPECT_EQ(challenge->body.size(), 8u);
        ASSERT_TRUE(client.send(garbage));
        auto error = client.readMessage();
        ASSERT_TRUE(error.has_value()) << user;
        ASSERT_EQ(error->type, 'E');
        auto fields = errorFields(error->body);
        EXPECT_EQ(fields['C'], "08P01") << user << ": " << fields['M'];
        EXPECT_EQ(fields['S'], "FATAL");
        (user == "app" ? wrongMessage : ghostMessage) = fields['M'];
        EXPECT_TRUE(client.waitClosed(5s)) << user;
    }
    auto pos = ghostMessage.find("ghost_user_sluice");
    if (pos != std::string::npos) ghostMessage.replace(pos, 17, "app");
    EXPECT_EQ(ghostMessage, wrongMessage);

    // Something other than a password message during authentication.
    {
        RawClient client(sluice_.port());
        ASSERT_TRUE(client.send(startupPacket({{"user", "app"}, {"database", "app"}})));
        ASSERT_TRUE(client.readMessage().has_value());
        ASSERT_TRUE(client.send(message('Q', std::string("SELECT 1\0", 9))));
        auto error = client.readMessage();
        ASSERT_TRUE(error.has_value());
        EXPECT_EQ(error->type, 'E');
        EXPECT_EQ(errorFields(error->body)['C'], "08P01");
        EXPECT_TRUE(client.waitClosed(5s));
    }
    // Unknown database: authentication comes first, so a wrong password cannot probe database names.
    {
        RawClient client(sluice_.port());
        ASSERT_TRUE(client.send(startupPacket({{"user", "app"}, {"database", "no_such_db_sluice"}})));
        auto challenge = client.readMessage();
        ASSERT_TRUE(challenge && challenge->type == 'R') << "the unknown database was refused before authentication";
        ASSERT_TRUE(client.send(garbage));
        auto error = client.readUntil('E');
        ASSERT_TRUE(error.has_value());
        EXPECT_EQ(errorFields(error->body)['M'], "password authentication failed");
        EXPECT_TRUE(client.waitClosed(5s));
    }
    EXPECT_EQ(normalClientProblem(), "") << lastLines(sluice_.log(), 20);
}

TEST_F(PoolerWire, EachAuthTypeAsksForItsMethod) {
    struct Case {
        std::string authType;
        std::string secret;  // app's auth_file password
        uint32_t expectedCode;
    };
    const std::string scramSecret = sharedPg().query1("SELECT rolpassword FROM pg_authid WHERE rolname = 'app'");
    const std::vector<Case> cases = {
        {"plain", "apppass", 3},
        {"md5", "apppass", 5},
        {"md5", scramSecret, 10},  // PgBouncer: md5 with a SCRAM secret uses SCRAM
        {"scram-sha-256", "apppass", 10},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.authType + " / " + c.secret.substr(0, 13));
        SluiceProcess sluice;
        sluice.writeFile("userlist.txt", "\"app\" \"" + c.secret + "\"\n");
        ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort(), "auth_type = " + c.authType + "\n")));
        RawClient client(sluice.port());
        ASSERT_TRUE(client.send(startupPacket({{"user", "app"}, {"database", "app"}})));
        auto request = client.readMessage();
        ASSERT_TRUE(request.has_value());
        ASSERT_EQ(request->type, 'R');
        EXPECT_EQ(readBe32(request->body, 0), c.expectedCode);
        if (c.expectedCode == 10) {
            // AuthenticationSASL lists its mechanisms, NUL-terminated, then an empty one.
            EXPECT_EQ(request->body.substr(4), std::string("SCRAM-SHA-256\0\0", 15));
        }
    }
}

TEST_F(PoolerWire, MaxClientConnRefusesTheFourthClientWith53300) {
    startSluice("max_client_conn = 3\n");
    std::vector<PqConn> clients;
    for (int i = 0; i < 3; ++i) {
        clients.emplace_back(sluice_.conninfo("app", "apppass", "app"));
        ASSERT_TRUE(clients.back().isOk()) << i << ": " << clients.back().error();
    }
    PqConn fourth(sluice_.conninfo("app", "apppass", "app"));
    EXPECT_FALSE(fourth.isOk());
    EXPECT_EQ(fourth.sqlstate(), "53300") << fourth.error();
    for (auto& client : clients) {
        QueryResult result = client.exec("SELECT 1");
        EXPECT_TRUE(result.ok) << result.describe();
    }
    // Refused clients must not use up slots: refuse a few more, then let everyone go.
    for (int i = 0; i < 5; ++i) {
        PqConn refused(sluice_.conninfo("app", "apppass", "app"));
        EXPECT_EQ(refused.sqlstate(), "53300") << refused.error();
    }
    // A client that leaves frees its slot.
    clients.pop_back();
    bool admitted = false;
    for (auto deadline = Clock::now() + 5s; !admitted && Clock::now() < deadline;) {
        PqConn again(sluice_.conninfo("app", "apppass", "app"));
        admitted = again.isOk() && again.exec("SELECT 1").ok;
        if (!admitted) std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(admitted) << "a slot freed by a leaving client was not reused\n" << lastLines(sluice_.log(), 20);
    // With everyone gone, three clients fit again.
    clients.clear();
    for (int i = 0; i < 3; ++i) {
        PqConn conn;
        // Sluice notices the departures asynchronously: retry a refusal for a while, bounded.
        for (auto deadline = Clock::now() + 5s; !conn.connect(sluice_.conninfo("app", "apppass", "app")) &&
                                                conn.sqlstate() == "53300" && Clock::now() < deadline;) {
            std::this_thread::sleep_for(50ms);
        }
        EXPECT_TRUE(conn.isOk()) << i << ": " << conn.error() << "\n" << lastLines(sluice_.log(), 20);
        clients.push_back(std::move(conn));
    }
}

TEST_F(PoolerWire, UnknownStartupParameterIsRefusedUnlessIgnored) {
    startSluice();
    std::string text = expectRefusal(sluice_.port(),
                                     startupPacket({{"user", "app"}, {"database", "app"}, {"sluice_bogus", "1"}}), "08P01");
    EXPECT_NE(text.find("sluice_bogus"), std::string::npos) << text;

    SluiceProcess tolerant;
    ASSERT_TRUE(tolerant.start(basicIni(sharedPg(), freePort(), "ignore_startup_parameters = sluice_bogus\n")));
    RawClient client(tolerant.port());
    ASSERT_TRUE(client.send(startupPacket({{"user", "app"}, {"database", "app"}, {"sluice_bogus", "1"}})));
    auto challenge = client.readMessage();
    ASSERT_TRUE(challenge.has_value());
    EXPECT_EQ(challenge->type, 'R') << errorFields(challenge->body)['M'];
}

TEST_F(PoolerWire, CancelRequestWithAnUnknownKeyIsClosedWithoutHarm) {
    startSluice();
    PqConn busy(sluice_.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(busy.isOk()) << busy.error();
    ASSERT_TRUE(busy.send("SELECT pg_sleep(0.3), 'done'"));
    {
        RawClient cancel(sluice_.port());
        ASSERT_TRUE(cancel.send(be32(16) + be32(80877102) + be32(12345) + be32(67890)));
        EXPECT_TRUE(cancel.waitClosed(5s)) << "a CancelRequest gets no answer, only a closed connection";
    }
    {
        // A truncated CancelRequest (length 12) is malformed.
        RawClient cancel(sluice_.port());
        ASSERT_TRUE(cancel.send(be32(12) + be32(80877102) + be32(12345)));
        EXPECT_TRUE(cancel.waitClosed(5s));
    }
    QueryResult result = busy.collect(5s);
    EXPECT_TRUE(result.ok) << result.describe();
    EXPECT_EQ(result.value(0, 1), "done");
}

TEST_F(PoolerWire, LibpqWithSslmodePreferFallsBackToPlain) {
    startSluice();
    PqConn conn(conninfo({{"host", "127.0.0.1"},
                          {"port", std::to_string(sluice_.port())},
                          {"user", "app"},
                          {"password", "apppass"},
                          {"dbname", "app"},
                          {"sslmode", "prefer"}}));
    ASSERT_TRUE(conn.isOk()) << conn.error();
    EXPECT_EQ(PQsslInUse(conn.raw()), 0);
    EXPECT_EQ(conn.exec("SELECT 1").value(), "1");
}

// As PgBouncer 1.25: a client waits for an unreachable server until query_wait_timeout (the
// connection attempts go on every server_login_retry meanwhile), then gets a class 08 error
// whose DETAIL says what the last attempt met.
TEST_F(PoolerWire, UnreachableServerGivesAClass08ErrorInsteadOfAHang) {
    const int deadPort = freePort();
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(), "server_connect_timeout = 2\nserver_login_retry = 1\nquery_wait_timeout = 3\n",
                                      "down = host=127.0.0.1 port=" + std::to_string(deadPort) +
                                          " dbname=app\napp = host=127.0.0.1 port=" + std::to_string(pg.port()) +
                                          " dbname=app\n")));
    for (int attempt = 0; attempt < 2; ++attempt) {
        SCOPED_TRACE("attempt " + std::to_string(attempt));
        auto started = Clock::now();
        PqConn conn(sluice.conninfo("app", "apppass", "down") + " connect_timeout=10", 12s);
        const auto [sqlstate, error] = loginOrFirstQueryError(conn);
        EXPECT_EQ(sqlstate.substr(0, 2), "08") << error << "\n" << lastLines(sluice.log(), 10);
        EXPECT_NE(error.find("query_wait_timeout"), std::string::npos) << error;
        EXPECT_NE(error.find("connect failed"), std::string::npos) << error;
        EXPECT_LT(elapsedMs(started), 8000) << error;
    }
    // The working database is not affected.
    PqConn good(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(good.isOk()) << good.error();
    EXPECT_EQ(good.exec("SELECT 1").value(), "1");
}

// Several Query messages in one write: PostgreSQL's answers then arrive with many
// ReadyForQuery messages in one read, and every one of them must be forwarded.
TEST_F(PoolerWire, PipelinedQueriesInOneWriteAllGetAnswered) {
    startSluice("auth_type = trust\n");
    RawClient client(sluice_.port());
    ASSERT_TRUE(trustLogin(client)) << lastLines(sluice_.log(), 20);
    const int count = 200;
    std::string batch;
    for (int i = 1; i <= count; ++i) batch += message('Q', "SELECT " + std::to_string(i) + std::string(1, '\0'));
    ASSERT_TRUE(client.send(batch));
    int answered = 0;
    for (int i = 1; i <= count; ++i) {
        auto row = client.readUntil('D', 3s);
        if (!row) break;
        EXPECT_EQ(row->body.substr(6), std::to_string(i));
        auto ready = client.readUntil('Z', 3s);
        if (!ready) break;
        EXPECT_EQ(ready->body, "I");
        ++answered;
    }
    EXPECT_EQ(answered, count) << "pipelined queries went unanswered\n" << lastLines(sluice_.log(), 20);
}

TEST_F(PoolerWire, SlowReaderGetsABigResultComplete) {
    startSluice("auth_type = trust\n");
    RawClient client(sluice_.port());
    ASSERT_TRUE(trustLogin(client)) << lastLines(sluice_.log(), 20);
    ASSERT_TRUE(client.send(
        message('Q', std::string("SELECT g, repeat('z', 2000) FROM generate_series(1, 15000) g") + '\0')));
    // Do not read for a while: the pooler must hold back (backpressure), not drop or die.
    std::this_thread::sleep_for(700ms);
    std::size_t rows = 0, bytes = 0;
    bool inOrder = true;
    std::optional<Message> msg;
    for (msg = client.readMessage(10s); msg && msg->type != 'Z'; msg = client.readMessage(10s)) {
        if (msg->type == 'D') {
            ++rows;
            uint32_t firstLength = readBe32(msg->body, 2);
            std::string first = msg->body.substr(6, firstLength);
            if (first != std::to_string(rows)) inOrder = false;
            bytes += msg->body.size() - 6 - firstLength - 4;
        }
        ASSERT_NE(msg->type, 'E') << errorFields(msg->body)['M'];
    }
    ASSERT_TRUE(msg.has_value()) << "result cut off after " << rows << " rows\n" << lastLines(sluice_.log(), 20);
    EXPECT_EQ(rows, 15000u);
    EXPECT_EQ(bytes, 15000u * 2000u);
    EXPECT_TRUE(inOrder);
}

TEST_F(PoolerWire, FiveMegabyteQueryTextIsForwarded) {
    startSluice("auth_type = trust\n");
    RawClient client(sluice_.port());
    ASSERT_TRUE(trustLogin(client)) << lastLines(sluice_.log(), 20);
    const std::string literal(5 * 1024 * 1024, 'q');
    ASSERT_TRUE(client.send(message('Q', "SELECT length('" + literal + "')" + std::string(1, '\0'))));
    auto row = client.readUntil('D', 20s);
    ASSERT_TRUE(row.has_value()) << lastLines(sluice_.log(), 20);
    EXPECT_EQ(row->body.substr(6), std::to_string(literal.size()));
    EXPECT_TRUE(client.readUntil('Z').has_value());
}

TEST_F(PoolerWire, PacketOverMaxPacketSizeIsRefused) {
    startSluice("auth_type = trust\nmax_packet_size = 65536\n");
    RawClient client(sluice_.port());
    ASSERT_TRUE(trustLogin(client)) << lastLines(sluice_.log(), 20);
    // Only the header of a 1 MB Query: the pooler must refuse without waiting for the body.
    ASSERT_TRUE(client.send(std::string(1, 'Q') + be32(1024 * 1024)));
    auto error = client.readUntil('E');
    ASSERT_TRUE(error.has_value()) << "no error for a packet over max_packet_size\n" << lastLines(sluice_.log(), 20);
    EXPECT_EQ(errorFields(error->body)['C'], "08P01") << errorFields(error->body)['M'];
    EXPECT_TRUE(client.waitClosed(5s));
    EXPECT_EQ(normalClientProblem(), "") << lastLines(sluice_.log(), 20);
}

// A TCP listener that never accepts: the kernel completes connections to it, so a pooler's
// connect succeeds, and then nothing ever answers its startup packet.
class SilentServer {
public:
    SilentServer() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 64) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            return;
        }
        port_ = ntohs(addr.sin_port);
    }
    ~SilentServer() {
        if (fd_ >= 0) ::close(fd_);
    }
    SilentServer(const SilentServer&) = delete;
    SilentServer& operator=(const SilentServer&) = delete;
    int port() const { return port_; }

private:
    int fd_ = -1;
    int port_ = 0;
};

TEST_F(PoolerWire, ServerThatNeverAnswersTimesOutAfterServerConnectTimeout) {
    SilentServer silent;
    ASSERT_GT(silent.port(), 0);
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(), "server_connect_timeout = 2\nserver_login_retry = 1\nquery_wait_timeout = 4\n",
                                      "mute = host=127.0.0.1 port=" + std::to_string(silent.port()) +
                                          " dbname=app\napp = host=127.0.0.1 port=" + std::to_string(pg.port()) +
                                          " dbname=app\n")));
    auto started = Clock::now();
    PqConn conn(sluice.conninfo("app", "apppass", "mute") + " connect_timeout=10", 12s);
    const auto [sqlstate, error] = loginOrFirstQueryError(conn);
    EXPECT_EQ(sqlstate.substr(0, 2), "08") << error << "\n" << lastLines(sluice.log(), 10);
    EXPECT_NE(error.find("connect timeout"), std::string::npos) << "server_connect_timeout = 2 ends each attempt: " << error;
    EXPECT_LT(elapsedMs(started), 9000) << "query_wait_timeout = 4 must bound the wait: " << error;
    // Meanwhile and afterwards the working database is served.
    PqConn good(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(good.isOk()) << good.error();
    EXPECT_EQ(good.exec("SELECT 1").value(), "1");
}

}  // namespace
}  // namespace sluice::itest
