// Prepared statements in transaction pooling: which messages the server gets, which answers
// the pooler makes or swallows, and in which order — all without a server.
#include <gtest/gtest.h>

#include "conn/prepared_statements.h"
#include "proto/builders.h"
#include "proto/codes.h"
#include "proto/extended.h"
#include "proto/header.h"

namespace {

using namespace sluice;
using conn::PreparedRelay;

// The types of the messages in `bytes`, e.g. "CPB" for Close, Parse, Bind.
std::string types(const std::string& bytes) {
    std::string out;
    size_t pos = 0;
    while (pos < bytes.size()) {
        auto header = proto::peekHeader(reinterpret_cast<const uint8_t*>(bytes.data()) + pos, bytes.size() - pos);
        if (!header) return out + "?";
        out += header->type;
        pos += header->totalSize();
    }
    return out;
}

std::string body(const std::string& message) { return message.substr(proto::kHeaderSize); }

class Relay : public ::testing::Test {
protected:
    // A client message through the relay; returns what the server got.
    std::string send(const std::string& message, conn::ClientStatements& client) {
        std::string toServer;
        const char type = message[0];
        const std::string b = body(message);
        if (relay_.readsWhole(type)) {
            auto outcome = relay_.fromClient(type, reinterpret_cast<const uint8_t*>(b.data()), b.size(), client, toServer);
            EXPECT_NE(outcome, PreparedRelay::Outcome::Malformed);
            if (outcome == PreparedRelay::Outcome::Unchanged) toServer = message;
        } else {
            toServer = message;
            relay_.forwarded(type);
        }
        return toServer;
    }
    // A server answer of `type` (no body); returns what the client gets.
    std::string answer(char type, conn::ClientStatements& client, const std::string& bodyText = "") {
        std::string toClient;
        std::vector<char> readies;
        if (relay_.hasDue()) relay_.takeDue(toClient, readies);
        auto verdict =
            relay_.fromServer(type, reinterpret_cast<const uint8_t*>(bodyText.data()), bodyText.size(), client);
        std::string seen = types(toClient);
        if (verdict == PreparedRelay::Verdict::Forward) seen += type;  // stands for the message
        return seen;
    }
    std::string due(conn::ClientStatements& client) {
        (void)client;
        std::string out;
        std::vector<char> readies;
        relay_.takeDue(out, readies);
        return types(out);
    }

    static std::string parse(const std::string& name, const std::string& query) {
        std::string out;
        proto::appendParse(out, name, query, std::string("\0\0", 2));
        return out;
    }
    static std::string bind(const std::string& statement) {
        std::string out;
        proto::appendBind(out, "", statement, std::string("\0\0\0\0\0\0", 6));
        return out;
    }
    static std::string execute() {
        std::string out;
        proto::MessageBuilder(out, 'E').addString("").addInt32(0);
        return out;
    }
    static std::string flush() {
        std::string out;
        proto::MessageBuilder(out, 'H');
        return out;
    }
    // The body of the ErrorResponse PostgreSQL sends for a prepared statement after DDL changed
    // what it returns.
    static std::string stalePlanError() {
        std::string out;
        proto::appendErrorResponse(out, "ERROR", "0A000", "cached plan must not change result type");
        return body(out);
    }
    // Prepares `name` as `query` on the server, answered.
    void prepared(const std::string& name, const std::string& query, conn::ClientStatements& client) {
        send(parse(name, query), client);
        send(sync(), client);
        answer('1', client);
        answer('Z', client, "I");
    }
    static std::string sync() {
        std::string out;
        proto::appendSync(out);
        return out;
    }

    uint64_t ids_ = 0;
    conn::StatementCatalog catalog_{[this] { return ++ids_; }};
    conn::ServerStatements server_;
    pool::PoolStats stats_;
    PreparedRelay relay_{catalog_, server_, 2, stats_};
};

TEST_F(Relay, AParseTheServerLacksIsSentUnderThePoolersNameAndAnsweredByTheServer) {
    conn::ClientStatements client;
    std::string toServer = send(parse("s1", "SELECT 1"), client);
    proto::ParseMessage sent;
    ASSERT_TRUE(proto::parseParse(reinterpret_cast<const uint8_t*>(toServer.data()) + 5, toServer.size() - 5, sent));
    EXPECT_EQ(sent.name, "sluice_1");
    EXPECT_EQ(sent.query, "SELECT 1");
    send(sync(), client);
    EXPECT_EQ(answer('1', client), "1");
    EXPECT_EQ(answer('Z', client), "Z");
    EXPECT_TRUE(relay_.idle());
    EXPECT_EQ(server_.size(), 1u);
}

TEST_F(Relay, AParseTheServerHasIsAnsweredByThePoolerInItsPlace) {
    conn::ClientStatements first, second;
    prepared("a", "SELECT 1", first);
    // Another client, same text, its own name: nothing goes to the server but the Sync...
    EXPECT_EQ(send(parse("b", "SELECT 1"), second), "");
    EXPECT_EQ(types(send(bind("b"), second)), "B");
    send(sync(), second);
    // ...and its ParseComplete comes before the server's BindComplete.
    EXPECT_EQ(answer('2', second), "12");
    EXPECT_EQ(answer('Z', second), "Z");
    EXPECT_EQ(stats_.serverParses, 1u);
    EXPECT_EQ(stats_.clientParses, 2u);
    EXPECT_EQ(stats_.binds, 1u);
}

// As PgBouncer's total_bind_count: Binds of named statements only (drivers bind BEGIN, COMMIT
// and one-off queries to the unnamed statement).
TEST_F(Relay, OnlyBindsOfNamedStatementsAreCounted) {
    conn::ClientStatements client;
    prepared("n", "SELECT 1", client);
    const uint64_t before = stats_.binds;
    send(bind(""), client);
    EXPECT_EQ(stats_.binds, before);
    send(bind("n"), client);
    EXPECT_EQ(stats_.binds, before + 1);
}

TEST_F(Relay, ABindOnAServerThatLacksTheStatementPreparesItFirstAndSwallowsTheAnswer) {
    conn::ClientStatements client;
    prepared("s", "SELECT 2", client);
    server_.clear();  // the client's next transaction is on another server
    EXPECT_EQ(types(send(bind("s"), client)), "PB");
    send(sync(), client);
    EXPECT_EQ(answer('1', client), "");  // the pooler's own Parse: not the client's business
    EXPECT_EQ(answer('2', client), "2");
    EXPECT_EQ(answer('Z', client), "Z");
}

TEST_F(Relay, AFullServerClosesItsLeastRecentlyUsedStatement) {
    conn::ClientStatements client;
    for (const char* name : {"a", "b", "c"}) send(parse(name, std::string("SELECT '") + name + "'"), client);
    EXPECT_EQ(server_.size(), 2u);
    // The third Parse went out behind a Close of the first statement.
    send(sync(), client);
    EXPECT_EQ(answer('1', client), "1");
    EXPECT_EQ(answer('1', client), "1");
    EXPECT_EQ(answer('3', client), "");  // the pooler's Close
    EXPECT_EQ(answer('1', client), "1");
    EXPECT_EQ(answer('Z', client), "Z");
    EXPECT_EQ(types(send(bind("a"), client)), "CPB");  // "a" comes back, "b" goes
}

// max_prepared_statements lowered by a reload: the server's next statement brings it down to
// the new limit at once (as PgBouncer), not one statement at a time.
TEST_F(Relay, ALoweredCapacityClosesEveryStatementBeyondIt) {
    conn::ClientStatements client;
    for (const char* name : {"a", "b"}) send(parse(name, std::string("SELECT '") + name + "'"), client);
    send(sync(), client);
    for (char reply : {'1', '1', 'Z'}) answer(reply, client);
    ASSERT_EQ(server_.size(), 2u);
    relay_.setCapacity(1);
    EXPECT_EQ(types(send(parse("c", "SELECT 'c'"), client)), "CCP") << "both older statements closed";
    EXPECT_EQ(server_.size(), 1u);
}

TEST_F(Relay, AnErrorSkipsToSyncAndUndoesWhatTheSkippedParsesWouldHaveMade) {
    conn::ClientStatements client;
    send(parse("bad", "SELEC 1"), client);
    send(parse("never", "SELECT 3"), client);
    send(sync(), client);
    EXPECT_EQ(answer('E', client), "E");
    EXPECT_EQ(answer('Z', client), "Z");
    EXPECT_TRUE(relay_.idle());
    EXPECT_EQ(server_.size(), 0u);
    EXPECT_TRUE(client.empty()) << "PostgreSQL creates no statement in a failed batch";
    // An unknown statement goes to the server as named, which answers 26000 itself.
    const std::string toServer = send(bind("bad"), client);
    proto::BindNames sent;
    ASSERT_TRUE(proto::parseBind(reinterpret_cast<const uint8_t*>(toServer.data()) + 5, toServer.size() - 5, sent));
    EXPECT_EQ(sent.statement, "bad");
}

TEST_F(Relay, PoolerAnswersBehindAnErrorAreNotSent) {
    conn::ClientStatements client;
    prepared("x", "SELECT 4", client);
    send(bind("x"), client);
    send(execute(), client);
    std::string close;
    proto::appendClose(close, 'S', "x");
    EXPECT_EQ(send(close, client), "");
    send(sync(), client);
    EXPECT_EQ(answer('2', client), "2");
    EXPECT_EQ(answer('E', client), "E");    // the Execute failed...
    EXPECT_EQ(answer('Z', client), "Z");    // ...so the server skipped to Sync, and so do we: no CloseComplete
}

TEST_F(Relay, PoolerAnswersWithNothingAheadAreDueAtOnce) {
    conn::ClientStatements client;
    prepared("y", "SELECT 5", client);
    send(parse("z", "SELECT 5"), client);
    std::string flush;
    proto::MessageBuilder(flush, 'H');
    send(flush, client);
    EXPECT_EQ(due(client), "1");  // Parse + Flush: the client waits for its ParseComplete now
    EXPECT_TRUE(relay_.idle());
}

TEST_F(Relay, ABatchRefusedForAStalePlanIsSentAgainAfterTheStatementIsPreparedAgain) {
    conn::ClientStatements client;
    prepared("s", "SELECT * FROM t", client);
    std::string batch = send(bind("s"), client);
    batch += send(execute(), client);
    batch += send(sync(), client);
    EXPECT_EQ(types(batch), "BES");
    // ALTER TABLE t elsewhere: the server refuses the Bind, skips to the Sync.
    EXPECT_EQ(answer('E', client, stalePlanError()), "") << "the client never sees the stale plan";
    EXPECT_TRUE(relay_.holdsClient());
    EXPECT_EQ(answer('Z', client, "I"), "");
    std::string replay;
    ASSERT_TRUE(relay_.takeReplay(replay));
    EXPECT_EQ(types(replay), "CPBES");
    EXPECT_EQ(replay.substr(replay.size() - batch.size()), batch);
    EXPECT_FALSE(relay_.holdsClient());
    EXPECT_EQ(answer('3', client), "");
    EXPECT_EQ(answer('1', client), "");
    EXPECT_EQ(answer('2', client), "2");
    EXPECT_EQ(answer('D', client), "D");
    EXPECT_EQ(answer('C', client), "C");
    EXPECT_EQ(answer('Z', client, "I"), "Z");
    EXPECT_TRUE(relay_.idle());
    EXPECT_EQ(stats_.serverParses, 2u);
}

TEST_F(Relay, AStalePlanInsideATransactionBlockReachesTheClientAndIsPreparedAgainNextTime) {
    conn::ClientStatements client;
    prepared("s", "SELECT * FROM t", client);
    std::string begin;
    proto::appendQuery(begin, "BEGIN");
    send(begin, client);
    answer('C', client);
    answer('Z', client, "T");
    send(bind("s"), client);
    send(execute(), client);
    send(sync(), client);
    EXPECT_EQ(answer('E', client, stalePlanError()), "E") << "the block failed, as on a direct connection";
    EXPECT_FALSE(relay_.holdsClient());
    EXPECT_EQ(answer('Z', client, "E"), "Z");
    EXPECT_EQ(types(send(bind("s"), client)), "CPB") << "closed and prepared again before its next use";
}

TEST_F(Relay, MessagesAfterAnErrorAreIgnoredUpToTheSyncTheClientSendsLater) {
    conn::ClientStatements client;
    send(parse("bad", "SELEC 1"), client);
    send(flush(), client);
    EXPECT_EQ(answer('E', client), "E");
    // The server ignores these: no answer is awaited for them, no name is made or dropped.
    send(parse("later", "SELECT 6"), client);
    send(bind("later"), client);
    send(execute(), client);
    EXPECT_TRUE(relay_.idle());
    send(sync(), client);
    EXPECT_EQ(answer('Z', client, "I"), "Z");
    EXPECT_TRUE(relay_.idle());
    EXPECT_TRUE(client.empty());
}

TEST_F(Relay, DiscardAllForgetsTheServersAndTheClientsStatements) {
    conn::ClientStatements client;
    prepared("s", "SELECT 6", client);
    std::string query;
    proto::appendQuery(query, "DISCARD ALL");
    send(query, client);
    answer('C', client, std::string("DISCARD ALL\0", 12));
    answer('Z', client);
    EXPECT_EQ(server_.size(), 0u);
    EXPECT_TRUE(client.empty());
}

// psycopg 3 (before libpq 17's PQclosePrepared) drops a statement from its cache with
// "DEALLOCATE name" in the extended protocol: Parse of the unnamed statement, Bind, Describe of
// the portal, Execute, Sync. The name is the client's, which the server never saw: the pooler
// answers it as it answers the simple Query DEALLOCATE.
std::string describe(char kind, const std::string& name) {
    std::string out;
    proto::appendDescribe(out, kind, name);
    return out;
}

TEST_F(Relay, DeallocateInTheExtendedProtocolForgetsTheClientsNameAndTheServerKeepsTheStatement) {
    conn::ClientStatements client;
    prepared("_pg3_0", "SELECT 8", client);
    EXPECT_EQ(send(parse("", "DEALLOCATE _pg3_0"), client), "");
    EXPECT_EQ(send(bind(""), client), "");
    EXPECT_EQ(send(describe('P', ""), client), "");
    EXPECT_EQ(send(execute(), client), "");
    EXPECT_EQ(types(send(sync(), client)), "S");
    // ParseComplete, BindComplete, NoData and the CommandComplete come before the server's ReadyForQuery.
    EXPECT_EQ(answer('Z', client, "I"), "12nCZ");
    EXPECT_TRUE(relay_.idle());
    EXPECT_FALSE(client.count("_pg3_0"));
    EXPECT_EQ(server_.size(), 1u) << "other clients may use it";
    // The name is free again, as on a direct connection.
    prepared("_pg3_0", "SELECT 9", client);
    EXPECT_EQ(client.at("_pg3_0")->query, "SELECT 9");
    // The statement described instead of the portal: no parameters, no rows.
    send(parse("", "deallocate prepare \"_pg3_0\""), client);
    EXPECT_EQ(send(describe('S', ""), client), "");
    send(bind(""), client);
    send(execute(), client);
    send(sync(), client);
    EXPECT_EQ(answer('Z', client, "I"), "1tn2CZ");
    EXPECT_FALSE(client.count("_pg3_0"));
}

TEST_F(Relay, DeallocateInTheExtendedProtocolOfAnUnknownNameFailsItsBatchAsPostgreSqlDoes) {
    conn::ClientStatements client;
    send(parse("", "DEALLOCATE nope"), client);
    send(bind(""), client);
    const std::string refusal = send(execute(), client);
    EXPECT_EQ(types(refusal), "B") << "a Bind that fails on the server, so that it skips to the Sync";
    send(sync(), client);
    std::string error;
    proto::appendErrorResponse(error, "ERROR", "26000", "prepared statement \"sluice_refused\" does not exist");
    std::string toClient;
    std::vector<char> readies;
    relay_.takeDue(toClient, readies);
    EXPECT_EQ(types(toClient), "12");
    EXPECT_EQ(relay_.fromServer('E', reinterpret_cast<const uint8_t*>(error.data()) + 5, error.size() - 5, client),
              PreparedRelay::Verdict::Swallow);
    toClient.clear();
    relay_.takeDue(toClient, readies);
    ASSERT_EQ(types(toClient), "E");
    EXPECT_NE(toClient.find("prepared statement \"nope\" does not exist"), std::string::npos) << toClient;
    EXPECT_EQ(answer('Z', client, "I"), "Z");
    EXPECT_TRUE(relay_.idle());
}

TEST_F(Relay, DeallocateInTheExtendedProtocolSkippedAfterAnErrorKeepsTheName) {
    conn::ClientStatements client;
    prepared("s", "SELECT 10", client);
    send(bind("s"), client);
    send(execute(), client);
    send(parse("", "DEALLOCATE s"), client);
    send(bind(""), client);
    send(execute(), client);
    send(sync(), client);
    EXPECT_EQ(answer('2', client), "2");
    EXPECT_EQ(answer('E', client), "E");  // the Execute failed: the server skips the rest
    EXPECT_EQ(answer('Z', client, "I"), "Z");
    EXPECT_TRUE(relay_.idle());
    EXPECT_TRUE(client.count("s")) << "the DEALLOCATE never ran";
}

// psycopg 3 sends DEALLOCATE ALL so after every ROLLBACK: on the server it would drop every
// client's statements.
TEST_F(Relay, DeallocateAllInTheExtendedProtocolForgetsOnlyTheClientsNames) {
    conn::ClientStatements client;
    prepared("a", "SELECT 12", client);
    prepared("b", "SELECT 13", client);
    EXPECT_EQ(send(parse("", "DEALLOCATE ALL"), client), "");
    EXPECT_EQ(send(bind(""), client), "");
    EXPECT_EQ(send(execute(), client), "");
    send(sync(), client);
    EXPECT_EQ(answer('Z', client, "I"), "12CZ");
    EXPECT_TRUE(client.empty());
    EXPECT_EQ(server_.size(), 2u);
    // Skipped after an error: the names come back.
    prepared("a", "SELECT 12", client);
    send(bind("a"), client);
    send(execute(), client);
    send(parse("", "deallocate all"), client);
    send(bind(""), client);
    send(execute(), client);
    send(sync(), client);
    EXPECT_EQ(answer('2', client), "2");
    EXPECT_EQ(answer('E', client), "E");
    EXPECT_EQ(answer('Z', client, "I"), "Z");
    EXPECT_TRUE(client.count("a"));
}

TEST_F(Relay, OtherStatementsOfTheUnnamedStatementStillGoToTheServer) {
    conn::ClientStatements client;
    EXPECT_EQ(types(send(parse("", "SELECT 11"), client)), "P");
    EXPECT_EQ(types(send(bind(""), client)), "B");
    EXPECT_EQ(types(send(execute(), client)), "E");
    // In a failed transaction the server answers a DEALLOCATE, as it would.
    send(sync(), client);
    answer('1', client);
    answer('2', client);
    answer('C', client);
    answer('Z', client, "E");
    EXPECT_EQ(types(send(parse("", "DEALLOCATE x"), client)), "P");
}

TEST_F(Relay, AParseOfAStatementAServerAcceptedBeforeNeedsNoServer) {
    conn::ClientStatements first, second;
    const std::string prepareAndSync = parse("p", "SELECT 7") + sync();
    std::string unanswered;
    uint64_t parses = 0;
    // Never seen on a server: it must go to one.
    EXPECT_EQ(conn::answerParsesLocally(reinterpret_cast<const uint8_t*>(prepareAndSync.data()), prepareAndSync.size(),
                                        catalog_, first, unanswered, parses),
              0u);
    prepared("p", "SELECT 7", first);
    // Accepted once: another client's Parse + Sync is answered at once, without a server.
    std::string out;
    EXPECT_EQ(conn::answerParsesLocally(reinterpret_cast<const uint8_t*>(prepareAndSync.data()), prepareAndSync.size(),
                                        catalog_, second, out, parses),
              prepareAndSync.size());
    EXPECT_EQ(types(out), "1Z");
    EXPECT_EQ(parses, 1u);
    ASSERT_TRUE(second.count("p"));
    // Anything but Parse … Sync (a Describe wants a server), or a half message, goes to a server.
    std::string describe;
    proto::appendDescribe(describe, 'S', "p");
    const std::string withDescribe = parse("p", "SELECT 7") + describe + sync();
    EXPECT_EQ(conn::answerParsesLocally(reinterpret_cast<const uint8_t*>(withDescribe.data()), withDescribe.size(),
                                        catalog_, second, out, parses),
              0u);
    EXPECT_EQ(conn::answerParsesLocally(reinterpret_cast<const uint8_t*>(prepareAndSync.data()),
                                        prepareAndSync.size() - 1, catalog_, second, out, parses),
              0u);
    // A name the client has already: PostgreSQL's 42P05 is the relay's to give.
    EXPECT_EQ(conn::answerParsesLocally(reinterpret_cast<const uint8_t*>(prepareAndSync.data()), prepareAndSync.size(),
                                        catalog_, second, out, parses),
              0u);
    const std::string twice = parse("q", "SELECT 7") + parse("q", "SELECT 7") + sync();
    EXPECT_EQ(conn::answerParsesLocally(reinterpret_cast<const uint8_t*>(twice.data()), twice.size(), catalog_, second,
                                        out, parses),
              0u);
}

// As PostgreSQL: a Parse of a name the client has prepared fails its batch with 42P05, and the
// statement of that name stays the one it was.
TEST_F(Relay, AParseOfANameInUseFailsAsPostgreSqlFailsIt) {
    conn::ClientStatements client;
    prepared("dup", "SELECT 1", client);
    const conn::StatementRef original = client.at("dup");
    EXPECT_EQ(types(send(parse("dup", "SELECT 2"), client)), "B") << "the pooler's failing Bind stands in";
    send(sync(), client);
    std::string toClient;
    std::vector<char> readies;
    EXPECT_EQ(answer('E', client), "") << "the server's error for the stand-in is swallowed";
    ASSERT_TRUE(relay_.hasDue());
    relay_.takeDue(toClient, readies);
    EXPECT_NE(toClient.find("42P05"), std::string::npos);
    EXPECT_NE(toClient.find("prepared statement \"dup\" already exists"), std::string::npos);
    EXPECT_EQ(answer('Z', client), "Z");
    EXPECT_EQ(client.at("dup"), original);
}

TEST(StatementCatalog, EqualTextsShareOneNameUntilNobodyHoldsThem) {
    uint64_t ids = 0;
    conn::StatementCatalog catalog([&] { return ++ids; });
    auto a = catalog.intern("SELECT 1", std::string("\0\0", 2));
    auto b = catalog.intern("SELECT 1", std::string("\0\0", 2));
    auto c = catalog.intern("SELECT 1", std::string("\0\x01\0\0\0\x17", 6));  // one int4 parameter: another statement
    EXPECT_EQ(a.get(), b.get());
    EXPECT_NE(a.get(), c.get());
    EXPECT_EQ(catalog.size(), 2u);
    a.reset();
    b.reset();
    EXPECT_EQ(catalog.size(), 1u);
}

}  // namespace
