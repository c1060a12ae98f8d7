// Bad input in transaction pooling, byte by byte over raw sockets: extended-protocol messages
// out of order, Syncs with nothing to sync, a Terminate in the middle of COPY FROM STDIN, garbage
// and impossible lengths. PostgreSQL's own errors must come back (or a clear 08xxx from the
// pooler and a closed connection); the server must be cleaned up; and a bystander with an open
// transaction, new clients and the pooler itself must not notice anything.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <memory>
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

std::string cstr(const std::string& text) { return text + std::string(1, '\0'); }

// Frontend messages of the extended protocol, built by hand.
std::string parseMsg(const std::string& statement, const std::string& sql) {
    return message('P', cstr(statement) + cstr(sql) + be16(0));
}
std::string bindMsg(const std::string& portal, const std::string& statement) {
    return message('B', cstr(portal) + cstr(statement) + be16(0) + be16(0) + be16(0));
}
std::string executeMsg(const std::string& portal) { return message('E', cstr(portal) + be32(0)); }
std::string describePortalMsg(const std::string& portal) { return message('D', std::string(1, 'P') + cstr(portal)); }
std::string syncMsg() { return message('S', ""); }

struct Answer {
    std::vector<Message> messages;  // up to and including the ReadyForQuery; partial on timeout/EOF
    bool ready = false;
    std::string types() const {
        std::string out;
        for (const auto& msg : messages) out += msg.type;
        return out;
    }
    char status() const { return ready && !messages.back().body.empty() ? messages.back().body[0] : '?'; }
    std::string sqlstate() const {
        for (const auto& msg : messages)
            if (msg.type == 'E') return errorFields(msg.body)['C'];
        return "";
    }
};

// Reads messages until a ReadyForQuery, bounded.
Answer readUntilReady(RawClient& client, std::chrono::milliseconds timeout = 5s) {
    Answer answer;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return answer;
        auto msg = client.readMessage(left);
        if (!msg) return answer;
        answer.messages.push_back(*msg);
        if (msg->type == 'Z') {
            answer.ready = true;
            return answer;
        }
    }
}

class TxnBadInput : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(clearAppBackends()) << "backends of an earlier test would not go away";
        // Two servers: one for the bystander's open transaction, one for everyone else.
        ASSERT_TRUE(sluice_.start(basicIni(sharedPg(), freePort(),
                                           "pool_mode = transaction\ndefault_pool_size = 2\nauth_type = trust\n")));
        bystander_ = std::make_unique<PqConn>(sluice_.conninfo("app", "apppass", "app"));
        ASSERT_TRUE(bystander_->isOk()) << bystander_->error() << logTail();
        ASSERT_TRUE(bystander_->exec("BEGIN").ok);
        bystanderXid_ = bystander_->exec("SELECT pg_current_xact_id()").value();
        ASSERT_FALSE(bystanderXid_.empty());
    }

    // The bystander still has its transaction, a new client is served promptly, the pooler runs.
    void expectNobodyElseNoticed(const std::string& afterWhat) {
        SCOPED_TRACE("after " + afterWhat);
        EXPECT_TRUE(sluice_.isRunning()) << logTail();
        QueryResult xid = bystander_->exec("SELECT pg_current_xact_id()", 5s);
        EXPECT_TRUE(xid.ok) << xid.describe() << logTail();
        EXPECT_EQ(xid.value(), bystanderXid_) << "the bystander's transaction was lost";
        const auto started = Clock::now();
        PqConn fresh(sluice_.conninfo("app", "apppass", "app"), 5s);
        ASSERT_TRUE(fresh.isOk()) << fresh.error() << logTail();
        QueryResult clean =
            fresh.exec("SELECT now() = statement_timestamp(), pg_current_xact_id_if_assigned() IS NULL", 5s);
        ASSERT_TRUE(clean.ok) << clean.describe() << logTail();
        EXPECT_EQ(clean.value(0, 0), "t") << "a new client got a server inside someone's transaction";
        EXPECT_EQ(clean.value(0, 1), "t");
        EXPECT_LT(elapsedMs(started), 3000);
    }

    std::unique_ptr<RawClient> loggedIn() {
        auto client = std::make_unique<RawClient>(sluice_.port());
        EXPECT_TRUE(trustLogin(*client)) << logTail();
        return client;
    }
    std::string logTail() const { return "\n--- sluice log:\n" + lastLines(sluice_.log(), 20); }

    SluiceProcess sluice_;
    std::unique_ptr<PqConn> bystander_;
    std::string bystanderXid_;
};

TEST_F(TxnBadInput, ExtendedMessagesOutOfOrderGetPostgresErrorsAndSyncRecovers) {
    auto client = loggedIn();
    struct Case {
        const char* what;
        std::string bytes;
        std::string types;     // expected message types up to ReadyForQuery
        std::string sqlstate;  // of the ErrorResponse
    };
    const std::vector<Case> cases = {
        {"Execute without Bind", executeMsg("") + syncMsg(), "EZ", "34000"},
        {"Execute of a portal never bound", executeMsg("txn_no_portal") + syncMsg(), "EZ", "34000"},
        {"Describe of a portal never bound", describePortalMsg("txn_no_portal") + syncMsg(), "EZ", "34000"},
        {"Bind of a statement never parsed", bindMsg("", "txn_no_statement") + syncMsg(), "EZ", "26000"},
        // After the error, the rest up to Sync is skipped: no BindComplete, no rows.
        {"Parse, bad Bind, Execute", parseMsg("", "SELECT 1") + bindMsg("", "txn_no_statement") + executeMsg("") +
                                         syncMsg(),
         "1EZ", "26000"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.what);
        ASSERT_TRUE(client->send(c.bytes));
        Answer answer = readUntilReady(*client);
        EXPECT_EQ(answer.types(), c.types) << logTail();
        EXPECT_EQ(answer.sqlstate(), c.sqlstate);
        EXPECT_EQ(answer.status(), 'I');
        // The connection is as good as new.
        ASSERT_TRUE(client->send(queryMessage("SELECT 'usable'")));
        Answer usable = readUntilReady(*client);
        ASSERT_TRUE(usable.ready) << logTail();
        EXPECT_EQ(usable.types(), "TDCZ");
        EXPECT_EQ(usable.messages[1].body.substr(6), "usable");
    }

    // The same inside a transaction block: the failed transaction ('E') keeps its server until
    // ROLLBACK, so a third client waits for it.
    ASSERT_TRUE(client->send(queryMessage("BEGIN")));
    ASSERT_EQ(readUntilReady(*client).status(), 'T');
    ASSERT_TRUE(client->send(executeMsg("") + syncMsg()));
    Answer failed = readUntilReady(*client);
    EXPECT_EQ(failed.types(), "EZ");
    EXPECT_EQ(failed.status(), 'E');
    PqConn third(sluice_.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(third.isOk()) << third.error() << logTail();
    ASSERT_TRUE(third.send("SELECT now() = statement_timestamp()"));
    EXPECT_FALSE(waitFd(PQsocket(third.raw()), POLLIN, Clock::now() + 400ms))
        << "a failed transaction's server was handed to another client";
    ASSERT_TRUE(client->send(queryMessage("ROLLBACK")));
    EXPECT_EQ(readUntilReady(*client).status(), 'I');
    QueryResult waited = third.collect(5s);
    ASSERT_TRUE(waited.ok) << waited.describe() << logTail();
    EXPECT_EQ(waited.value(), "t");
    expectNobodyElseNoticed("out-of-order extended messages");
}

TEST_F(TxnBadInput, SyncWithNothingToSyncAnswersReadyForQueryIdle) {
    auto client = loggedIn();
    ASSERT_TRUE(client->send(syncMsg()));
    Answer one = readUntilReady(*client);
    EXPECT_EQ(one.types(), "Z") << logTail();
    EXPECT_EQ(one.status(), 'I');
    // Three in one write: three answers, nothing else.
    ASSERT_TRUE(client->send(syncMsg() + syncMsg() + syncMsg()));
    for (int i = 0; i < 3; ++i) {
        Answer each = readUntilReady(*client);
        EXPECT_EQ(each.types(), "Z") << "sync " << i << logTail();
        EXPECT_EQ(each.status(), 'I');
    }
    // A Flush alone owes nothing back; the Sync after it is answered once.
    ASSERT_TRUE(client->send(message('H', "")));
    ASSERT_TRUE(client->send(syncMsg()));
    Answer flushed = readUntilReady(*client);
    EXPECT_EQ(flushed.types(), "Z") << logTail();
    ASSERT_TRUE(client->send(queryMessage("SELECT 1")));
    EXPECT_EQ(readUntilReady(*client).types(), "TDCZ");
    expectNobodyElseNoticed("lone Syncs");
}

TEST_F(TxnBadInput, TerminateOrVanishingInTheMiddleOfCopyFromStdinCleansUpTheServer) {
    const std::string table = "txn_copy_term_" + std::to_string(::getpid());
    sharedPg().exec("DROP TABLE IF EXISTS " + table + "; CREATE TABLE " + table + " (n int); ALTER TABLE " + table +
                        " OWNER TO app",
                    "app");
    PgCounter counter;
    for (bool terminate : {true, false}) {
        SCOPED_TRACE(terminate ? "Terminate sent" : "socket dropped");
        {
            auto client = loggedIn();
            ASSERT_TRUE(client->send(queryMessage("COPY " + table + " FROM STDIN")));
            auto copyIn = client->readMessage();
            ASSERT_TRUE(copyIn.has_value()) << logTail();
            ASSERT_EQ(copyIn->type, 'G') << errorFields(copyIn->body)['M'];
            ASSERT_TRUE(client->send(message('d', "1\n2\n3\n")));
            if (terminate) {
                ASSERT_TRUE(client->send(message('X', "")));
                EXPECT_TRUE(client->waitClosed(3s)) << "Terminate did not close the client" << logTail();
            }
        }
        EXPECT_TRUE(waitUntil(
            [&] {
                return counter.count("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY %' AND state = "
                                     "'active' AND usename = 'app'") == 0;
            },
            3s))
            << "PostgreSQL still has a backend in the abandoned COPY" << logTail();
        EXPECT_EQ(sharedPg().query1("SELECT count(*) FROM " + table, "app"), "0") << "the abandoned COPY was committed";
        expectNobodyElseNoticed(terminate ? "Terminate during COPY" : "vanishing during COPY");
    }
    sharedPg().exec("DROP TABLE " + table, "app");
}

TEST_F(TxnBadInput, GarbageAndImpossibleLengthsGetAClearErrorAndAClosedConnection) {
    struct Case {
        const char* what;
        std::string bytes;
        bool mustExplain;  // an ErrorResponse is required (else a plain close is acceptable too)
    };
    std::string garbage;
    for (int i = 0; i < 64; ++i) garbage += static_cast<char>(0xff - i);
    const std::vector<Case> cases = {
        {"unknown message type", message('!', "junk"), true},
        {"length below 4", std::string("Q") + be32(2) + "SELECT 1", true},
        {"garbage bytes (length over max_packet_size)", garbage, true},
        // PostgreSQL drops a connection announcing a 2 GB Query without a word; the pooler must
        // not wait for the 2 GB, and must tell the client (08xxx) or at least close it.
        {"Query announcing 2 GB", std::string("Q") + be32(0x7ffffff0) + "SELECT 1", false},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.what);
        auto client = loggedIn();
        ASSERT_TRUE(client->send(c.bytes));
        const auto started = Clock::now();
        auto first = client->readMessage(5s);
        if (first) {
            EXPECT_EQ(first->type, 'E') << "answered garbage with '" << first->type << "'" << logTail();
            auto fields = errorFields(first->body);
            EXPECT_EQ(fields['C'].substr(0, 2), "08") << fields['C'] << ": " << fields['M'];
            EXPECT_FALSE(fields['M'].empty());
        } else {
            EXPECT_FALSE(c.mustExplain) << "closed (or silent) without an ErrorResponse" << logTail();
        }
        EXPECT_TRUE(client->waitClosed(5s)) << "the connection stayed open after garbage" << logTail();
        EXPECT_LT(elapsedMs(started), 6000);
        expectNobodyElseNoticed(c.what);
    }
}

}  // namespace
}  // namespace sluice::itest
