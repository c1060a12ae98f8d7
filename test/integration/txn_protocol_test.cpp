// Release points of transaction (and statement) pooling, protocol by protocol. The pool has ONE
// server and two clients take turns on it, so a server handed over too early (inside a
// transaction, with answers still owed, in the middle of a COPY) or handed over dirty shows up
// as the other client's wrong answer, its wait, or its error.
#include <gtest/gtest.h>
#include <libpq/libpq-fs.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
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

// What a client that finds a clean server sees: no transaction open, none assigned.
constexpr const char* kCleanServerQuery =
    "SELECT now() = statement_timestamp(), pg_current_xact_id_if_assigned() IS NULL";

// True when nothing arrives on the connection's socket within `window`: its request is waiting.
bool staysUnanswered(const PqConn& conn, std::chrono::milliseconds window) {
    return !waitFd(PQsocket(conn.raw()), POLLIN, Clock::now() + window);
}

// Reads a libpq pipeline's results until `syncs` sync points went by, each result as a token:
// "rows:<first value>", "ok:<tag>", "error:<SQLSTATE>", "aborted", "sync"; "timeout"/"broken" end it.
std::vector<std::string> pipelineTokens(PGconn* conn, int syncs, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::vector<std::string> tokens;
    int seen = 0;
    while (seen < syncs) {
        if (Clock::now() >= deadline) {
            tokens.push_back("timeout");
            return tokens;
        }
        while (PQisBusy(conn)) {
            if (!waitFd(PQsocket(conn), POLLIN, deadline)) {
                tokens.push_back("timeout");
                return tokens;
            }
            if (PQconsumeInput(conn) == 0) {
                tokens.push_back("broken");
                return tokens;
            }
        }
        PGresult* result = PQgetResult(conn);
        if (result == nullptr) continue;  // end of one query's results
        switch (PQresultStatus(result)) {
            case PGRES_TUPLES_OK:
                tokens.push_back("rows:" + std::string(PQntuples(result) > 0 ? PQgetvalue(result, 0, 0) : ""));
                break;
            case PGRES_COMMAND_OK: tokens.push_back(std::string("ok:") + PQcmdStatus(result)); break;
            case PGRES_FATAL_ERROR: {
                const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
                tokens.push_back("error:" + std::string(state ? state : "?"));
                break;
            }
            case PGRES_PIPELINE_ABORTED: tokens.push_back("aborted"); break;
            case PGRES_PIPELINE_SYNC:
                tokens.push_back("sync");
                ++seen;
                break;
            default: tokens.push_back(PQresStatus(PQresultStatus(result))); break;
        }
        PQclear(result);
    }
    return tokens;
}

bool sendInPipeline(PGconn* conn, const std::string& sql) {
    return PQsendQueryParams(conn, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
}

std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& part : parts) out += (out.empty() ? "" : " ") + part;
    return out;
}

// libpq's large-object calls (FunctionCall messages) block without a bound; this shuts the
// socket down after `timeout` so a hung pooler fails the test instead of hanging it.
class SocketDeadline {
public:
    SocketDeadline(int fd, std::chrono::milliseconds timeout)
        : thread_([this, fd, timeout] {
              std::unique_lock lock(mutex_);
              if (!cv_.wait_for(lock, timeout, [this] { return done_; })) {
                  fired_ = true;
                  ::shutdown(fd, SHUT_RDWR);
              }
          }) {}
    ~SocketDeadline() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    bool fired() {
        std::lock_guard lock(mutex_);
        return fired_;
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;
    bool fired_ = false;
    std::thread thread_;
};

class TxnProtocol : public ::testing::Test {
protected:
    void startSluice(const std::string& mode = "transaction", const std::string& extra = "") {
        ASSERT_TRUE(clearAppBackends()) << "backends of an earlier test would not go away";
        ASSERT_TRUE(sluice_.start(
            basicIni(sharedPg(), freePort(), "pool_mode = " + mode + "\ndefault_pool_size = 1\n" + extra)));
    }
    PqConn client(const std::string& options = "") {
        return PqConn(conninfo({{"host", "127.0.0.1"},
                                {"port", std::to_string(sluice_.port())},
                                {"user", "app"},
                                {"password", "apppass"},
                                {"dbname", "app"},
                                {"sslmode", "disable"},
                                {"options", options}}));
    }
    // A regular table in database app, owned by app, dropped at the end of the test.
    std::string makeTable(const std::string& stem, const std::string& columns) {
        std::string name = stem + "_" + std::to_string(::getpid());
        sharedPg().exec("DROP TABLE IF EXISTS " + name + "; CREATE TABLE " + name + " (" + columns +
                            "); ALTER TABLE " + name + " OWNER TO app",
                        "app");
        tables_.push_back(name);
        return name;
    }
    void TearDown() override {
        for (const auto& table : tables_) {
            try {
                sharedPg().exec("DROP TABLE IF EXISTS " + table, "app");
            } catch (const std::exception& e) {
                ADD_FAILURE() << e.what();
            }
        }
    }
    std::string logTail() const { return "\n--- sluice log:\n" + lastLines(sluice_.log(), 20); }

    SluiceProcess sluice_;
    std::vector<std::string> tables_;
};

TEST_F(TxnProtocol, MultiStatementQueryReleasesOnlyWhenNoTransactionIsLeftOpen) {
    startSluice("transaction", "workers = 1\n");  // both clients on the one backend: see below
    PqConn a = client(), b = client();
    ASSERT_TRUE(a.isOk()) << a.error() << logTail();
    ASSERT_TRUE(b.isOk()) << b.error() << logTail();
    const std::string pid = a.exec("SELECT pg_backend_pid()").value();
    ASSERT_FALSE(pid.empty());
    ASSERT_EQ(b.exec("SELECT pg_backend_pid()").value(), pid) << "test premise: one server for both clients";

    // A whole transaction and more in one Query: released at its ReadyForQuery 'I'.
    QueryResult whole = a.exec("BEGIN; SELECT 1; COMMIT; SELECT 'a-done'");
    ASSERT_TRUE(whole.ok) << whole.describe();
    EXPECT_EQ(whole.value(), "a-done");
    QueryResult clean = b.exec(kCleanServerQuery, 5s);
    ASSERT_TRUE(clean.ok) << clean.describe() << logTail();
    EXPECT_EQ(clean.value(0, 0), "t");
    EXPECT_EQ(clean.value(0, 1), "t");

    // A Query that leaves a transaction open keeps the server: b waits until a commits.
    QueryResult open = a.exec("SELECT 1; BEGIN; SELECT pg_current_xact_id()");
    ASSERT_TRUE(open.ok) << open.describe();
    ASSERT_TRUE(b.send("SELECT 'b-ran', now() = statement_timestamp()"));
    EXPECT_TRUE(staysUnanswered(b, 400ms)) << "b was served while a's transaction was open";
    QueryResult inside = a.exec("SELECT 'still mine', pg_backend_pid()");
    ASSERT_TRUE(inside.ok) << inside.describe();
    EXPECT_EQ(inside.value(0, 1), pid);
    ASSERT_TRUE(a.exec("COMMIT").ok);
    QueryResult waited = b.collect(5s);
    ASSERT_TRUE(waited.ok) << waited.describe() << logTail();
    EXPECT_EQ(waited.value(0, 0), "b-ran");
    EXPECT_EQ(waited.value(0, 1), "t");

    // An error in the middle of a multi-statement Query aborts it and ends its implicit transaction.
    QueryResult broken = a.exec("SELECT 1; SELECT 1/0; SELECT 2");
    EXPECT_EQ(broken.sqlstate, "22012") << broken.describe();
    QueryResult after = b.exec(kCleanServerQuery, 5s);
    ASSERT_TRUE(after.ok) << after.describe() << logTail();
    EXPECT_EQ(after.value(0, 0), "t");
    EXPECT_EQ(a.exec("SELECT 'a again'").value(), "a again");
}

TEST_F(TxnProtocol, PipelineErrorSkipsTheRestOfItsSegmentAndTheNextSegmentRuns) {
    startSluice();
    PqConn a = client(), b = client();
    ASSERT_TRUE(a.isOk()) << a.error() << logTail();
    ASSERT_TRUE(b.isOk()) << b.error() << logTail();
    PGconn* raw = a.raw();
    ASSERT_EQ(PQenterPipelineMode(raw), 1);
    ASSERT_TRUE(sendInPipeline(raw, "SELECT 1"));
    ASSERT_TRUE(sendInPipeline(raw, "SELECT 1/0"));
    ASSERT_TRUE(sendInPipeline(raw, "SELECT 3"));  // skipped: same sync segment as the error
    ASSERT_EQ(PQpipelineSync(raw), 1);
    ASSERT_TRUE(sendInPipeline(raw, "SELECT 4"));
    ASSERT_EQ(PQpipelineSync(raw), 1);
    ASSERT_EQ(PQflush(raw), 0);
    // b asks meanwhile: it is served between or after a's segments, never in the middle of one.
    ASSERT_TRUE(b.send(kCleanServerQuery));
    std::vector<std::string> tokens = pipelineTokens(raw, 2, 10s);
    EXPECT_EQ(join(tokens), "rows:1 error:22012 aborted sync rows:4 sync") << logTail();
    QueryResult clean = b.collect(5s);
    ASSERT_TRUE(clean.ok) << clean.describe() << logTail();
    EXPECT_EQ(clean.value(0, 0), "t");
    EXPECT_EQ(clean.value(0, 1), "t");

    // A segment that opens a transaction keeps the server across its Sync until the COMMIT's.
    ASSERT_TRUE(sendInPipeline(raw, "BEGIN"));
    ASSERT_TRUE(sendInPipeline(raw, "SELECT pg_current_xact_id() IS NOT NULL"));
    ASSERT_EQ(PQpipelineSync(raw), 1);
    ASSERT_EQ(PQflush(raw), 0);
    tokens = pipelineTokens(raw, 1, 10s);
    EXPECT_EQ(join(tokens), "ok:BEGIN rows:t sync");
    ASSERT_TRUE(b.send(kCleanServerQuery));
    EXPECT_TRUE(staysUnanswered(b, 400ms)) << "b got the server inside a's pipelined transaction";
    ASSERT_TRUE(sendInPipeline(raw, "COMMIT"));
    ASSERT_EQ(PQpipelineSync(raw), 1);
    ASSERT_EQ(PQflush(raw), 0);
    tokens = pipelineTokens(raw, 1, 10s);
    EXPECT_EQ(join(tokens), "ok:COMMIT sync");
    clean = b.collect(5s);
    ASSERT_TRUE(clean.ok) << clean.describe() << logTail();
    EXPECT_EQ(clean.value(0, 0), "t");
    EXPECT_EQ(clean.value(0, 1), "t");

    ASSERT_EQ(PQexitPipelineMode(raw), 1);
    EXPECT_EQ(a.exec("SELECT 'after pipeline'").value(), "after pipeline");
}

TEST_F(TxnProtocol, CopyInAndCopyOutOfTenMegabytes) {
    startSluice();
    const std::string table = makeTable("txn_copy", "id int, payload text");
    PqConn a = client(), b = client();
    ASSERT_TRUE(a.isOk()) << a.error() << logTail();
    ASSERT_TRUE(b.isOk()) << b.error() << logTail();

    const int rows = 10 * 1024;
    const std::string payload(1024, 'c');
    std::string data;
    data.reserve(static_cast<std::size_t>(rows) * (payload.size() + 8));
    for (int i = 1; i <= rows; ++i) data += std::to_string(i) + "\t" + payload + "\n";
    ASSERT_GT(data.size(), 10u * 1024 * 1024);

    // b queues while a's COPY streams in; it must only get the server once the COPY is over.
    ASSERT_TRUE(a.send("SELECT 1"));  // a takes the server first
    ASSERT_TRUE(a.collect(5s).ok);
    std::string tag, failure;
    std::thread copier([&] { failure = copyIn(a.raw(), table, data, &tag); });
    std::this_thread::sleep_for(50ms);
    const bool sent = b.send("SELECT count(*), coalesce(sum(length(payload)), 0) FROM " + table);
    copier.join();
    ASSERT_TRUE(sent) << b.error();
    EXPECT_EQ(failure, "") << logTail();
    EXPECT_EQ(tag, "COPY " + std::to_string(rows));
    QueryResult counted = b.collect(10s);
    ASSERT_TRUE(counted.ok) << counted.describe() << logTail();
    // b ran either before the COPY (nothing there yet) or after it (everything): never in between.
    const std::string seen = counted.value(0, 0);
    EXPECT_TRUE(seen == "0" || seen == std::to_string(rows)) << "b saw " << seen << " rows: a partial COPY";
    QueryResult total = b.exec("SELECT count(*), sum(length(payload)), sum(id) FROM " + table);
    ASSERT_TRUE(total.ok) << total.describe();
    EXPECT_EQ(total.value(0, 0), std::to_string(rows));
    EXPECT_EQ(total.value(0, 1), std::to_string(rows * 1024));
    EXPECT_EQ(total.value(0, 2), std::to_string(static_cast<long long>(rows) * (rows + 1) / 2));

    // COPY TO STDOUT of the same 10 MB, while a waits for the server.
    ASSERT_TRUE(b.send("COPY " + table + " TO STDOUT"));
    ASSERT_TRUE(a.send(kCleanServerQuery));
    QueryResult out = b.collect(30s);
    ASSERT_TRUE(out.ok) << out.describe() << logTail();
    ASSERT_EQ(out.rows.size(), static_cast<std::size_t>(rows));
    std::size_t bytes = 0;
    bool intact = true;
    for (const auto& row : out.rows) {
        bytes += row[0].size() + 1;  // the line without its newline
        if (row[0].substr(row[0].find('\t') + 1) != payload) intact = false;
    }
    EXPECT_EQ(bytes, data.size());
    EXPECT_TRUE(intact);
    QueryResult clean = a.collect(10s);
    ASSERT_TRUE(clean.ok) << clean.describe() << logTail();
    EXPECT_EQ(clean.value(0, 0), "t");

    // A COPY that fails part way: the server's error, nothing stored, and the server is fine.
    std::string badTag;
    std::string badFailure = copyIn(a.raw(), table, "1\tok\nnot_a_number\tx\n", &badTag);
    EXPECT_NE(badFailure.find("invalid input syntax"), std::string::npos) << badFailure;
    QueryResult after = b.exec("SELECT count(*), now() = statement_timestamp() FROM " + table, 5s);
    ASSERT_TRUE(after.ok) << after.describe() << logTail();
    EXPECT_EQ(after.value(0, 0), std::to_string(rows));
    EXPECT_EQ(after.value(0, 1), "t");
}

TEST_F(TxnProtocol, FiftyMegabyteResultComesThroughWhileTheOtherClientWaits) {
    startSluice();
    PqConn a = client(), b = client();
    ASSERT_TRUE(a.isOk()) << a.error() << logTail();
    ASSERT_TRUE(b.isOk()) << b.error() << logTail();
    ASSERT_TRUE(a.send("SELECT g, repeat('x', 1024 * 1024) FROM generate_series(1, 50) g"));
    std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(b.send("SELECT 'b served', now() = statement_timestamp()"));
    QueryResult big = a.collect(60s);
    ASSERT_TRUE(big.ok) << big.describe() << logTail();
    ASSERT_EQ(big.rows.size(), 50u);
    std::size_t total = 0;
    bool ordered = true, intact = true;
    for (std::size_t i = 0; i < big.rows.size(); ++i) {
        total += big.rows[i][1].size();
        if (big.rows[i][0] != std::to_string(i + 1)) ordered = false;
        if (big.rows[i][1].find_first_not_of('x') != std::string::npos) intact = false;
    }
    EXPECT_EQ(total, 50u * 1024 * 1024);
    EXPECT_TRUE(ordered);
    EXPECT_TRUE(intact);
    QueryResult other = b.collect(10s);
    ASSERT_TRUE(other.ok) << other.describe() << logTail();
    EXPECT_EQ(other.value(0, 0), "b served");
    EXPECT_EQ(other.value(0, 1), "t");
    EXPECT_EQ(a.exec("SELECT 'a after'").value(), "a after");
}

TEST_F(TxnProtocol, CancelStopsTheQueryAndTheServerIsHealthyForTheNextClient) {
    startSluice();
    PqConn a = client(), b = client();
    ASSERT_TRUE(a.isOk()) << a.error() << logTail();
    ASSERT_TRUE(b.isOk()) << b.error() << logTail();
    ASSERT_TRUE(a.send("SELECT pg_sleep(10)"));
    std::this_thread::sleep_for(300ms);  // let it reach PostgreSQL
    const auto started = Clock::now();
    ASSERT_TRUE(a.cancel()) << a.error();
    QueryResult cancelled = a.collect(5s);
    EXPECT_EQ(cancelled.sqlstate, "57014") << cancelled.describe() << logTail();
    EXPECT_LT(elapsedMs(started), 2000) << "the cancel took too long to act";
    EXPECT_EQ(a.exec("SELECT 'a after cancel'", 5s).value(), "a after cancel");
    QueryResult clean = b.exec(std::string(kCleanServerQuery) +
                                   ", (SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(10)' "
                                   "AND state = 'active')",
                               5s);
    ASSERT_TRUE(clean.ok) << clean.describe() << logTail();
    EXPECT_EQ(clean.value(0, 0), "t");
    EXPECT_EQ(clean.value(0, 1), "t");
    EXPECT_EQ(clean.value(0, 2), "0") << "the cancelled query still runs";

    // a holds no server now: its cancel key must not reach the server b is using.
    ASSERT_TRUE(b.send("SELECT pg_sleep(0.6), 'b finished'"));
    std::this_thread::sleep_for(200ms);
    ASSERT_TRUE(a.cancel()) << a.error();
    QueryResult untouched = b.collect(5s);
    EXPECT_TRUE(untouched.ok) << "an idle client's cancel stopped another client's query: " << untouched.describe();
    EXPECT_EQ(untouched.value(0, 1), "b finished");
}

TEST_F(TxnProtocol, TimeZoneFollowsEachClientOnASharedServer) {
    // One worker, whatever TEST_SLUICE_WORKERS says: both clients must share the one backend,
    // and between workers a server moves by give-away, i.e. as a new connection (DESIGN §3).
    startSluice("transaction", "workers = 1\n");
    PqConn utc = client("-c TimeZone=UTC");
    PqConn ny = client("-c TimeZone=America/New_York");
    ASSERT_TRUE(utc.isOk()) << utc.error() << logTail();
    ASSERT_TRUE(ny.isOk()) << ny.error() << logTail();
    EXPECT_EQ(utc.parameter("TimeZone"), "UTC");
    EXPECT_EQ(ny.parameter("TimeZone"), "America/New_York");
    std::string sharedPid;
    for (int round = 0; round < 3; ++round) {
        for (PqConn* conn : {&utc, &ny}) {
            const std::string want = conn == &utc ? "UTC" : "America/New_York";
            SCOPED_TRACE("round " + std::to_string(round) + ", client " + want);
            ASSERT_TRUE(conn->exec("BEGIN").ok);
            EXPECT_EQ(conn->exec("SHOW TimeZone").value(), want) << logTail();
            QueryResult pid = conn->exec("SELECT pg_backend_pid(), to_char(timestamptz '2024-01-01 12:00+00', 'HH24')");
            ASSERT_TRUE(pid.ok) << pid.describe();
            EXPECT_EQ(pid.value(0, 1), want == "UTC" ? "12" : "07");
            if (sharedPid.empty()) sharedPid = pid.value(0, 0);
            EXPECT_EQ(pid.value(0, 0), sharedPid) << "test premise: both clients on the one server";
            ASSERT_TRUE(conn->exec("COMMIT").ok);
            // What libpq believes must stay what the client asked for: no ParameterStatus leaks
            // from the other client's sync.
            EXPECT_EQ(conn->parameter("TimeZone"), want);
        }
    }
}

TEST_F(TxnProtocol, StatementModeRefusesBeginWithAnErrorAndClosesTheClient) {
    startSluice("statement");
    PqConn c = client(), other = client();
    ASSERT_TRUE(c.isOk()) << c.error() << logTail();
    ASSERT_TRUE(other.isOk()) << other.error() << logTail();
    QueryResult multi = c.exec("SELECT 1; SELECT 'two'");
    ASSERT_TRUE(multi.ok) << multi.describe();
    EXPECT_EQ(multi.value(), "two");

    // As PgBouncer: the BEGIN itself fails with the pooler's error, and the client is closed.
    QueryResult begin = c.exec("BEGIN", 5s);
    EXPECT_FALSE(begin.ok) << "BEGIN looked successful to the client, which then finds its connection gone";
    EXPECT_EQ(begin.sqlstate, "08P01") << begin.describe();
    EXPECT_NE(begin.error.find("transaction blocks not allowed in statement pooling mode"), std::string::npos)
        << begin.describe() << logTail();
    QueryResult next = c.exec("SELECT 1", 5s);
    EXPECT_FALSE(next.ok) << "the client was not closed";
    EXPECT_NE(PQstatus(c.raw()), CONNECTION_OK);

    // Its server was not handed on inside the transaction, and nobody is left idle in transaction.
    QueryResult clean = other.exec(kCleanServerQuery, 5s);
    ASSERT_TRUE(clean.ok) << clean.describe() << logTail();
    EXPECT_EQ(clean.value(0, 0), "t");
    EXPECT_EQ(clean.value(0, 1), "t");
    PgCounter counter;
    EXPECT_TRUE(waitUntil(
        [&] {
            return counter.count("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND state LIKE "
                                 "'idle in transaction%'") == 0;
        },
        3s));
}

TEST_F(TxnProtocol, ClientKilledMidQueryDoesNotPoisonTheNextClient) {
    startSluice();
    std::string oldPid;
    {
        PqConn victim = client();
        ASSERT_TRUE(victim.isOk()) << victim.error() << logTail();
        oldPid = victim.exec("SELECT pg_backend_pid()").value();
        ASSERT_TRUE(victim.send("SELECT pg_sleep(5)"));
        std::this_thread::sleep_for(200ms);
        // Like a killed process: the socket goes away with no Terminate and no cancel.
        ::shutdown(PQsocket(victim.raw()), SHUT_RDWR);
    }
    const auto started = Clock::now();
    PqConn next = client();
    ASSERT_TRUE(next.isOk()) << next.error() << logTail();
    QueryResult result = next.exec(std::string(kCleanServerQuery) + ", pg_backend_pid()", 8s);
    ASSERT_TRUE(result.ok) << result.describe() << logTail();
    EXPECT_EQ(result.value(0, 0), "t");
    EXPECT_EQ(result.value(0, 1), "t");
    EXPECT_NE(result.value(0, 2), oldPid) << "the server still running the dead client's query was handed out";
    EXPECT_LT(elapsedMs(started), 3000) << "the next client waited for the dead client's pg_sleep(5)";
}

TEST_F(TxnProtocol, ClientLeavingWithAnOpenTransactionLeavesNothingBehind) {
    startSluice();
    const std::string table = makeTable("txn_gone", "n int");
    for (bool abrupt : {false, true}) {
        SCOPED_TRACE(abrupt ? "socket dropped" : "Terminate sent");
        {
            PqConn quitter = client();
            ASSERT_TRUE(quitter.isOk()) << quitter.error() << logTail();
            ASSERT_TRUE(quitter.exec("BEGIN").ok);
            ASSERT_TRUE(quitter.exec("CREATE TEMP TABLE txn_gone_tmp (a int)").ok);
            ASSERT_TRUE(quitter.exec("INSERT INTO " + table + " VALUES (1)").ok);
            if (abrupt) ::shutdown(PQsocket(quitter.raw()), SHUT_RDWR);
        }
        PqConn next = client();
        ASSERT_TRUE(next.isOk()) << next.error() << logTail();
        QueryResult state = next.exec(std::string(kCleanServerQuery) + ", (SELECT count(*) FROM " + table +
                                          "), to_regclass('pg_temp.txn_gone_tmp') IS NULL",
                                      5s);
        ASSERT_TRUE(state.ok) << state.describe() << logTail();
        EXPECT_EQ(state.value(0, 0), "t") << "the next client found a transaction open";
        EXPECT_EQ(state.value(0, 1), "t");
        EXPECT_EQ(state.value(0, 2), "0") << "the departed client's insert was committed";
        EXPECT_EQ(state.value(0, 3), "t") << "the departed client's temp table is visible";
        ASSERT_TRUE(next.exec("BEGIN").ok);
        EXPECT_TRUE(next.notices().empty()) << next.notices().front();
        ASSERT_TRUE(next.exec("ROLLBACK").ok);
    }
}

TEST_F(TxnProtocol, NotificationsReachTheClient) {
    // Session mode: LISTEN in one session, NOTIFY from another, delivered with no query running.
    startSluice("session", "default_pool_size = 2\n");
    PqConn listener = client(), notifier = client();
    ASSERT_TRUE(listener.isOk()) << listener.error() << logTail();
    ASSERT_TRUE(notifier.isOk()) << notifier.error() << logTail();
    ASSERT_TRUE(listener.exec("LISTEN txn_channel").ok);
    ASSERT_TRUE(notifier.exec("NOTIFY txn_channel, 'hello through the pooler'").ok);
    PGnotify* notify = nullptr;
    const auto deadline = Clock::now() + 5s;
    while (notify == nullptr && waitFd(PQsocket(listener.raw()), POLLIN, deadline)) {
        if (PQconsumeInput(listener.raw()) == 0) break;
        notify = PQnotifies(listener.raw());
    }
    ASSERT_NE(notify, nullptr) << "no NotificationResponse within 5 s" << logTail();
    EXPECT_STREQ(notify->relname, "txn_channel");
    EXPECT_STREQ(notify->extra, "hello through the pooler");
    PQfreemem(notify);
    EXPECT_EQ(listener.exec("SELECT 'still fine'").value(), "still fine");
}

TEST_F(TxnProtocol, NotificationInsideTheTransactionReachesTheClientInTransactionMode) {
    startSluice();
    PqConn a = client();
    ASSERT_TRUE(a.isOk()) << a.error() << logTail();
    // The notification comes between the COMMIT's CommandComplete and ReadyForQuery.
    QueryResult result = a.exec("BEGIN; LISTEN txn_self; NOTIFY txn_self, 'to myself'; COMMIT");
    ASSERT_TRUE(result.ok) << result.describe();
    PQconsumeInput(a.raw());
    PGnotify* notify = PQnotifies(a.raw());
    ASSERT_NE(notify, nullptr) << "the NotificationResponse was lost" << logTail();
    EXPECT_STREQ(notify->extra, "to myself");
    PQfreemem(notify);
    EXPECT_EQ(a.exec("SELECT 'after notify'").value(), "after notify");
}

TEST_F(TxnProtocol, FunctionCallsOfLargeObjectsInsideATransaction) {
    startSluice();
    PqConn a = client(), b = client();
    ASSERT_TRUE(a.isOk()) << a.error() << logTail();
    ASSERT_TRUE(b.isOk()) << b.error() << logTail();
    Oid oid = InvalidOid;
    {
        SocketDeadline guard(PQsocket(a.raw()), 10s);
        ASSERT_TRUE(a.exec("BEGIN").ok);
        oid = lo_creat(a.raw(), INV_READ | INV_WRITE);  // FunctionCall messages (PQfn)
        ASSERT_NE(oid, InvalidOid) << PQerrorMessage(a.raw()) << logTail();
        int fd = lo_open(a.raw(), oid, INV_WRITE);
        ASSERT_GE(fd, 0) << PQerrorMessage(a.raw());
        const char text[] = "large object through the pooler";
        EXPECT_EQ(lo_write(a.raw(), fd, text, sizeof text - 1), static_cast<int>(sizeof text - 1));
        EXPECT_EQ(lo_close(a.raw(), fd), 0);
        // b waits: a is inside its transaction.
        ASSERT_TRUE(b.send("SELECT convert_from(lo_get(" + std::to_string(oid) + "), 'UTF8')"));
        EXPECT_TRUE(staysUnanswered(b, 300ms));
        ASSERT_TRUE(a.exec("COMMIT").ok);
        EXPECT_FALSE(guard.fired()) << "a large-object call hung" << logTail();
    }
    QueryResult read = b.collect(5s);
    ASSERT_TRUE(read.ok) << read.describe() << logTail();
    EXPECT_EQ(read.value(), "large object through the pooler");
    EXPECT_TRUE(b.exec("SELECT lo_unlink(" + std::to_string(oid) + ")").ok);
}

}  // namespace
}  // namespace sluice::itest
