// Session pooling end to end: libpq clients through a real Sluice to the shared PostgreSQL.
// Queries over TCP and the unix socket, server reuse and reset between clients, client
// parameters, cancel, big results and COPY IN, and the PgBouncer-shaped log lines.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>

#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"

namespace sluice::itest {
namespace {

using Clock = std::chrono::steady_clock;

std::string unixConninfo(const SluiceProcess& sluice, const std::string& user, const std::string& password,
                         const std::string& db) {
    return conninfo({{"host", sluice.dir()},
                     {"port", std::to_string(sluice.port())},
                     {"user", user},
                     {"password", password},
                     {"dbname", db}});
}

// Sets an environment variable for one scope: libpq reads PGTZ when it builds the startup packet.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
    ~ScopedEnv() { ::unsetenv(name_); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
};

class PoolerSession : public ::testing::Test {
protected:
    // extra: [pooler] lines on top of basicIni.
    void startSluice(const std::string& extra = "") {
        ASSERT_TRUE(sluice_.start(basicIni(sharedPg(), freePort(), extra)));
    }
    std::string appConninfo() const { return sluice_.conninfo("app", "apppass", "app"); }

    SluiceProcess sluice_;
};

TEST_F(PoolerSession, QueriesOverTcp) {
    startSluice();
    PqConn conn(appConninfo());
    ASSERT_TRUE(conn.isOk()) << conn.error() << "\n" << sluice_.log();
    QueryResult result = conn.exec("SELECT current_user, current_database(), 6 * 7");
    ASSERT_TRUE(result.ok) << result.describe();
    EXPECT_EQ(result.value(0, 0), "app");
    EXPECT_EQ(result.value(0, 1), "app");
    EXPECT_EQ(result.value(0, 2), "42");
    // Several statements in one Query, an SQL error, and the connection stays usable.
    QueryResult bad = conn.exec("SELECT * FROM no_such_table_sluice");
    EXPECT_EQ(bad.sqlstate, "42P01") << bad.describe();
    QueryResult multi = conn.exec("SELECT 1; SELECT 'two'");
    ASSERT_TRUE(multi.ok) << multi.describe();
    EXPECT_EQ(multi.value(), "two");
    // The superuser reaches the other database entry.
    PqConn super(sluice_.conninfo("sluice_test", "secret", "postgres"));
    ASSERT_TRUE(super.isOk()) << super.error();
    EXPECT_EQ(super.exec("SELECT current_database()").value(), "postgres");
}

// A server given by host name is looked up off the event loop (net::HostLookup) and reached.
TEST_F(PoolerSession, AServerGivenByHostNameIsLookedUp) {
    addrinfo hints{}, *found = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    ASSERT_EQ(::getaddrinfo("localhost", nullptr, &hints, &found), 0);
    const bool loopbackV4 = found->ai_family == AF_INET &&
                            reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
    ::freeaddrinfo(found);
    if (!loopbackV4) GTEST_SKIP() << "localhost does not resolve to 127.0.0.1 first here";
    ASSERT_TRUE(sluice_.start(basicIni(sharedPg(), freePort(), "",
                                       "app = host=localhost port=" + std::to_string(sharedPg().port()) + " dbname=app\n")));
    PqConn conn(appConninfo());
    EXPECT_EQ(conn.exec("SELECT 'by name'").value(), "by name") << conn.error() << lastLines(sluice_.log(), 10);
}

// A host name that does not resolve (.invalid never does): PgBouncer's lines, and the client's
// wait ends with query_wait_timeout naming the failure.
TEST_F(PoolerSession, AServerHostThatDoesNotResolveIsLoggedAsPgBouncerLogsIt) {
    ASSERT_TRUE(sluice_.start(basicIni(sharedPg(), freePort(), "query_wait_timeout = 1\n",
                                       "app = host=no-such-host.invalid port=5432 dbname=app\n")));
    PqConn conn(appConninfo());
    QueryResult result = conn.exec("SELECT 1", 10s);
    EXPECT_FALSE(result.ok && conn.isOk()) << "a server of an unresolvable host answered";
    const std::string log = sluice_.log();
    EXPECT_NE(log.find("DNS lookup failed: no-such-host.invalid: "), std::string::npos) << lastLines(log, 10);
    EXPECT_NE(log.find("closing because: server DNS lookup failed"), std::string::npos) << lastLines(log, 10);
}

TEST_F(PoolerSession, QueriesOverTheUnixSocket) {
    startSluice();
    std::string socketPath = sluice_.dir() + "/.s.PGSQL." + std::to_string(sluice_.port());
    EXPECT_TRUE(std::filesystem::exists(socketPath)) << socketPath;
    PqConn conn(unixConninfo(sluice_, "app", "apppass", "app"));
    ASSERT_TRUE(conn.isOk()) << conn.error() << "\n" << sluice_.log();
    QueryResult result = conn.exec("SELECT current_user, current_database()");
    ASSERT_TRUE(result.ok) << result.describe();
    EXPECT_EQ(result.value(0, 0), "app");
    EXPECT_EQ(result.value(0, 1), "app");
    // The password is still checked on the unix socket with auth_type=md5.
    PqConn wrong(unixConninfo(sluice_, "app", "wrong", "app"));
    EXPECT_FALSE(wrong.isOk());
    EXPECT_EQ(wrong.sqlstate(), "08P01") << wrong.error();
}

TEST_F(PoolerSession, SequentialClientsShareOneBackendAndStateIsReset) {
    // One worker, whatever TEST_SLUICE_WORKERS says: the point is the very same backend, and
    // between workers a server moves by give-away, i.e. as a new connection (DESIGN §3).
    startSluice("default_pool_size = 1\nworkers = 1\n");
    std::string firstPid;
    {
        PqConn first(appConninfo());
        ASSERT_TRUE(first.isOk()) << first.error() << "\n" << sluice_.log();
        firstPid = first.exec("SELECT pg_backend_pid()").value();
        ASSERT_FALSE(firstPid.empty());
        ASSERT_TRUE(first.exec("SET statement_timeout = '12345s'").ok);
        ASSERT_TRUE(first.exec("SET search_path = sluice_nowhere, public").ok);
        ASSERT_TRUE(first.exec("SET work_mem = '7MB'").ok);
        ASSERT_TRUE(first.exec("CREATE TEMP TABLE sluice_session_tmp (a int)").ok);
        ASSERT_TRUE(first.exec("PREPARE sluice_prep AS SELECT 1").ok);
        ASSERT_TRUE(first.exec("SELECT pg_advisory_lock(424242)").ok);
        EXPECT_EQ(first.exec("SHOW statement_timeout").value(), "12345s");
    }
    PqConn second(appConninfo());
    ASSERT_TRUE(second.isOk()) << second.error() << "\n" << sluice_.log();
    EXPECT_EQ(second.exec("SELECT pg_backend_pid()").value(), firstPid)
        << "with default_pool_size=1 the second client must get the first one's server";
    EXPECT_EQ(second.exec("SHOW statement_timeout").value(), "0");
    EXPECT_EQ(second.exec("SHOW search_path").value(), "\"$user\", public");
    EXPECT_EQ(second.exec("SHOW work_mem").value(), "4MB");
    EXPECT_EQ(second.exec("SELECT count(*) FROM pg_class WHERE relname = 'sluice_session_tmp'").value(), "0")
        << "the temp table survived: DISCARD ALL did not run";
    EXPECT_EQ(second.exec("SELECT count(*) FROM pg_prepared_statements").value(), "0");
    EXPECT_EQ(second.exec("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").value(), "0");
}

TEST_F(PoolerSession, UnknownDatabaseIsRefusedAsPgBouncerRefusesIt) {
    startSluice();
    PqConn conn(sluice_.conninfo("app", "apppass", "no_such_db_sluice"));
    EXPECT_FALSE(conn.isOk());
    EXPECT_EQ(conn.sqlstate(), "08P01") << conn.error();
    EXPECT_NE(conn.error().find("no_such_db_sluice"), std::string::npos) << conn.error();
    PqConn good(appConninfo());
    EXPECT_TRUE(good.isOk()) << good.error();
}

TEST_F(PoolerSession, ClientParametersAreAppliedAndNotLeakedToTheNextClient) {
    // One worker: both clients must get the one backend (see SequentialClientsShareOneBackend…).
    startSluice("default_pool_size = 1\nworkers = 1\n");
    const std::string serverTimezone = sharedPg().query1("SHOW TimeZone");
    ASSERT_NE(serverTimezone, "Asia/Tokyo");
    std::string firstPid;
    {
        ScopedEnv tz("PGTZ", "Asia/Tokyo");  // libpq sends it as the "timezone" startup parameter
        PqConn first(conninfo({{"host", "127.0.0.1"},
                               {"port", std::to_string(sluice_.port())},
                               {"user", "app"},
                               {"password", "apppass"},
                               {"dbname", "app"},
                               {"sslmode", "disable"},
                               {"application_name", "foo"},
                               {"client_encoding", "LATIN1"}}));
        ASSERT_TRUE(first.isOk()) << first.error() << "\n" << sluice_.log();
        firstPid = first.exec("SELECT pg_backend_pid()").value();
        EXPECT_EQ(first.exec("SHOW application_name").value(), "foo");
        EXPECT_EQ(first.exec("SHOW client_encoding").value(), "LATIN1");
        EXPECT_EQ(first.exec("SHOW TimeZone").value(), "Asia/Tokyo");
        EXPECT_EQ(first.parameter("application_name"), "foo");
        EXPECT_EQ(first.parameter("client_encoding"), "LATIN1");
        EXPECT_EQ(first.parameter("TimeZone"), "Asia/Tokyo");
    }
    PqConn second(appConninfo());
    ASSERT_TRUE(second.isOk()) << second.error() << "\n" << sluice_.log();
    ASSERT_EQ(second.exec("SELECT pg_backend_pid()").value(), firstPid) << "test premise: same server";
    EXPECT_NE(second.exec("SHOW application_name").value(), "foo");
    EXPECT_EQ(second.exec("SHOW client_encoding").value(), "UTF8");
    EXPECT_EQ(second.parameter("client_encoding"), "UTF8");
    EXPECT_EQ(second.exec("SHOW TimeZone").value(), serverTimezone);
    EXPECT_NE(second.parameter("TimeZone"), "Asia/Tokyo");
    // What libpq was told must be what the server does (libpq decodes text with it).
    EXPECT_EQ(second.exec("SHOW client_encoding").value(), second.parameter("client_encoding"));
}

TEST_F(PoolerSession, CancelStopsARunningQueryAndTheConnectionStaysUsable) {
    startSluice();
    PqConn conn(appConninfo());
    ASSERT_TRUE(conn.isOk()) << conn.error();
    ASSERT_TRUE(conn.send("SELECT pg_sleep(10)")) << conn.error();
    std::this_thread::sleep_for(200ms);  // let the query reach PostgreSQL
    auto started = Clock::now();
    ASSERT_TRUE(conn.cancel()) << conn.error();
    QueryResult result = conn.collect(8s);
    EXPECT_EQ(result.sqlstate, "57014") << result.describe() << "\n" << sluice_.log();
    EXPECT_LT(elapsedMs(started), 8000);
    QueryResult after = conn.exec("SELECT 'after cancel'");
    EXPECT_TRUE(after.ok) << after.describe();
    EXPECT_EQ(after.value(), "after cancel");

    // A cancel with a wrong key does nothing to this connection.
    PGconn* raw = conn.raw();
    ASSERT_NE(raw, nullptr);
    ASSERT_TRUE(conn.send("SELECT pg_sleep(0.5), 'finished'"));
    {
        PqConn other(appConninfo());
        ASSERT_TRUE(other.isOk());
        ASSERT_TRUE(other.cancel());  // other is idle: nothing to cancel there
    }
    QueryResult untouched = conn.collect(8s);
    EXPECT_TRUE(untouched.ok) << untouched.describe();
    EXPECT_EQ(untouched.value(0, 1), "finished");
}

TEST_F(PoolerSession, TwentyMegabyteResultComesThroughIntact) {
    startSluice();
    PqConn conn(appConninfo());
    ASSERT_TRUE(conn.isOk()) << conn.error();
    QueryResult result = conn.exec("SELECT g, repeat('x', 1000) FROM generate_series(1, 20000) g", 60s);
    ASSERT_TRUE(result.ok) << result.describe() << "\n" << lastLines(sluice_.log(), 20);
    ASSERT_EQ(result.rows.size(), 20000u);
    std::size_t total = 0;
    bool ordered = true;
    for (std::size_t i = 0; i < result.rows.size(); ++i) {
        total += result.rows[i][1].size();
        if (result.rows[i][0] != std::to_string(i + 1)) ordered = false;
    }
    EXPECT_EQ(total, 20000u * 1000u);
    EXPECT_TRUE(ordered);
    EXPECT_EQ(result.rows[12345][1], std::string(1000, 'x'));
    EXPECT_EQ(conn.exec("SELECT 1").value(), "1");
}

TEST_F(PoolerSession, CopyFromStdinOfSeveralMegabytes) {
    startSluice();
    PqConn conn(appConninfo());
    ASSERT_TRUE(conn.isOk()) << conn.error();
    ASSERT_TRUE(conn.exec("CREATE TEMP TABLE sluice_copy (id int, payload text)").ok);
    std::string data;
    const int rows = 40000;
    const std::string payload(100, 'y');
    for (int i = 1; i <= rows; ++i) data += std::to_string(i) + "\t" + payload + "\n";
    ASSERT_GT(data.size(), 4u * 1000 * 1000);
    std::string tag;
    std::string failure = copyIn(conn.raw(), "sluice_copy", data, &tag);
    ASSERT_EQ(failure, "") << lastLines(sluice_.log(), 20);
    EXPECT_EQ(tag, "COPY " + std::to_string(rows));
    QueryResult check = conn.exec("SELECT count(*), sum(id), sum(length(payload)) FROM sluice_copy");
    ASSERT_TRUE(check.ok) << check.describe();
    EXPECT_EQ(check.value(0, 0), std::to_string(rows));
    EXPECT_EQ(check.value(0, 1), std::to_string(static_cast<long long>(rows) * (rows + 1) / 2));
    EXPECT_EQ(check.value(0, 2), std::to_string(rows * 100));

    // A COPY that fails part way (bad data) gives the server's error and the connection goes on.
    std::string badTag;
    std::string badFailure = copyIn(conn.raw(), "sluice_copy", "1\tok\nnot_a_number\tx\n", &badTag);
    EXPECT_NE(badFailure.find("invalid input syntax"), std::string::npos) << badFailure;
    EXPECT_EQ(conn.exec("SELECT count(*) FROM sluice_copy").value(), std::to_string(rows));
}

TEST_F(PoolerSession, ExtendedProtocolErrorsMidStreamAndParameterStatus) {
    startSluice();
    PqConn conn(appConninfo());
    ASSERT_TRUE(conn.isOk()) << conn.error();
    // Parse/Bind/Describe/Execute/Sync with a parameter.
    const char* values[] = {"20", "22"};
    ASSERT_EQ(PQsendQueryParams(conn.raw(), "SELECT $1::int + $2::int", 2, nullptr, values, nullptr, nullptr, 0), 1);
    QueryResult sum = conn.collect(10s);
    ASSERT_TRUE(sum.ok) << sum.describe();
    EXPECT_EQ(sum.value(), "42");
    // A named prepared statement lives for the session.
    ASSERT_EQ(PQsendPrepare(conn.raw(), "sluice_stmt", "SELECT upper($1::text)", 1, nullptr), 1);
    ASSERT_TRUE(conn.collect(10s).ok);
    const char* word[] = {"pooled"};
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(PQsendQueryPrepared(conn.raw(), "sluice_stmt", 1, word, nullptr, nullptr, 0), 1);
        QueryResult upper = conn.collect(10s);
        ASSERT_TRUE(upper.ok) << upper.describe();
        EXPECT_EQ(upper.value(), "POOLED");
    }
    // An error after rows were already streamed.
    QueryResult broken = conn.exec("SELECT 1 / (g - 5000) FROM generate_series(1, 10000) g");
    EXPECT_EQ(broken.sqlstate, "22012") << broken.describe();
    EXPECT_EQ(conn.exec("SELECT 'usable'").value(), "usable");
    // ParameterStatus from a SET reaches the client.
    ASSERT_TRUE(conn.exec("SET application_name = 'renamed_by_set'").ok);
    EXPECT_EQ(conn.parameter("application_name"), "renamed_by_set");
    // NOTICEs pass through.
    ASSERT_TRUE(conn.exec("DO $$ BEGIN RAISE NOTICE 'through the pooler'; END $$").ok);
    ASSERT_FALSE(conn.notices().empty());
    EXPECT_EQ(conn.notices().back(), "through the pooler");
}

// libpq's pipeline mode (as JDBC batches, asyncpg executemany, ... do): many
// Parse/Bind/Execute/Sync in one go, many ReadyForQuery back to back.
TEST_F(PoolerSession, LibpqPipelineModeGetsEveryResult) {
    startSluice();
    PqConn conn(appConninfo());
    ASSERT_TRUE(conn.isOk()) << conn.error();
    PGconn* raw = conn.raw();
    ASSERT_EQ(PQenterPipelineMode(raw), 1);
    const int count = 100;
    for (int i = 1; i <= count; ++i) {
        std::string value = std::to_string(i);
        const char* values[] = {value.c_str()};
        ASSERT_EQ(PQsendQueryParams(raw, "SELECT $1::int * 2", 1, nullptr, values, nullptr, nullptr, 0), 1);
        ASSERT_EQ(PQpipelineSync(raw), 1);
    }
    ASSERT_EQ(PQflush(raw), 0);  // blocking connection: all sent
    const auto deadline = Clock::now() + 5s;
    int rows = 0, syncs = 0;
    bool timedOut = false;
    while (syncs < count && !timedOut) {
        while (PQisBusy(raw)) {
            if (!waitFd(PQsocket(raw), POLLIN, deadline)) {
                timedOut = true;
                break;
            }
            if (PQconsumeInput(raw) == 0) break;
        }
        if (timedOut) break;
        PGresult* result = PQgetResult(raw);
        if (result == nullptr) continue;  // end of one query's results
        ExecStatusType status = PQresultStatus(result);
        if (status == PGRES_TUPLES_OK) {
            ++rows;
            EXPECT_EQ(std::string(PQgetvalue(result, 0, 0)), std::to_string(rows * 2));
        } else if (status == PGRES_PIPELINE_SYNC) {
            ++syncs;
        } else {
            ADD_FAILURE() << PQresStatus(status) << ": " << PQresultErrorMessage(result);
            timedOut = true;
        }
        PQclear(result);
    }
    EXPECT_EQ(rows, count) << lastLines(sluice_.log(), 20);
    EXPECT_EQ(syncs, count) << lastLines(sluice_.log(), 20);
    if (!timedOut) {
        ASSERT_EQ(PQexitPipelineMode(raw), 1);
        EXPECT_EQ(conn.exec("SELECT 'after pipeline'").value(), "after pipeline");
    }
}

TEST_F(PoolerSession, ClientVanishingMidQueryOrMidTransactionLeavesNoTrace) {
    startSluice("default_pool_size = 1\n");
    PgServer& pg = sharedPg();
    const std::string table = "sluice_vanish_" + std::to_string(::getpid());
    pg.exec("DROP TABLE IF EXISTS " + table + "; CREATE TABLE " + table + " (n int); GRANT ALL ON " + table +
                " TO app",
            "app");
    {
        PqConn quitter(appConninfo());
        ASSERT_TRUE(quitter.isOk()) << quitter.error();
        ASSERT_TRUE(quitter.exec("BEGIN").ok);
        ASSERT_TRUE(quitter.exec("INSERT INTO " + table + " VALUES (1)").ok);
    }  // gone inside its transaction
    {
        PqConn sleeper(appConninfo());
        ASSERT_TRUE(sleeper.isOk()) << sleeper.error() << "\n" << lastLines(sluice_.log(), 20);
        ASSERT_TRUE(sleeper.send("SELECT pg_sleep(2)"));
        std::this_thread::sleep_for(100ms);
    }  // gone while its query runs
    auto started = Clock::now();
    PqConn next(appConninfo(), 15s);
    ASSERT_TRUE(next.isOk()) << next.error() << "\n" << lastLines(sluice_.log(), 20);
    QueryResult result = next.exec("SELECT count(*) FROM " + table, 15s);
    ASSERT_TRUE(result.ok) << result.describe() << "\n" << lastLines(sluice_.log(), 20);
    EXPECT_EQ(result.value(), "0") << "the vanished client's transaction was not rolled back";
    EXPECT_LT(elapsedMs(started), 10000);
    ASSERT_TRUE(next.exec("BEGIN").ok);
    EXPECT_TRUE(next.notices().empty()) << "the next client found a transaction already open: "
                                        << next.notices().front();
    ASSERT_TRUE(next.exec("ROLLBACK").ok);
    pg.exec("DROP TABLE " + table, "app");
}

TEST_F(PoolerSession, LogHasPgBouncerShapedLines) {
    startSluice();
    {
        PqConn conn(appConninfo());
        ASSERT_TRUE(conn.isOk()) << conn.error();
        ASSERT_TRUE(conn.exec("SELECT 1").ok);
    }
    // The disconnect is logged asynchronously; wait for it, bounded.
    auto deadline = Clock::now() + 5s;
    while (sluice_.log().find("closing because: ") == std::string::npos && Clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
    }
    std::string log = sluice_.log();
    EXPECT_NE(log.find("login attempt: db=app user=app"), std::string::npos) << log;
    EXPECT_NE(log.find("new connection to server"), std::string::npos) << log;
    EXPECT_NE(log.find("closing because: "), std::string::npos) << log;
}

// The lines operators grep PgBouncer's log for, in its words.
TEST_F(PoolerSession, AFirstLoginThroughTheStarEntryIsLoggedAsANewAutoDatabase) {
    PgServer& pg = sharedPg();
    ASSERT_TRUE(sluice_.start(
        basicIni(pg, freePort(), "", "* = host=" + pg.host() + " port=" + std::to_string(pg.port()) + "\n")));
    for (int i = 0; i < 2; ++i) {
        PqConn conn(appConninfo());
        ASSERT_TRUE(conn.isOk()) << conn.error() << "\n" << sluice_.log();
        ASSERT_TRUE(conn.exec("SELECT 1").ok);
    }
    EXPECT_EQ(countOf(sluice_.log(), "registered new auto-database: app"), 1u) << sluice_.log();
}

TEST_F(PoolerSession, AServerLoginFailureIsLoggedWithTheServersText) {
    PgServer& pg = sharedPg();
    ASSERT_TRUE(sluice_.start(basicIni(pg, freePort(), "",
                                       "app = host=" + pg.host() + " port=" + std::to_string(pg.port()) +
                                           " dbname=app user=app password=not_the_password\n")));
    PqConn conn(appConninfo());
    EXPECT_FALSE(conn.isOk()) << "the server refused the pooler's login";
    const std::string server = "password authentication failed for user \"app\"";
    // The server connection's own line (its client is closed with the same text).
    auto serverClosed = [&] {
        std::istringstream lines(sluice_.log());
        for (std::string line; std::getline(lines, line);) {
            const bool ofServer = line.find(" S-") != std::string::npos;
            if (ofServer && line.find("closing because: " + server + " (age=") != std::string::npos) return true;
        }
        return false;
    };
    auto deadline = Clock::now() + 5s;
    while (!serverClosed() && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
    EXPECT_TRUE(serverClosed()) << sluice_.log();
    EXPECT_NE(sluice_.log().find("server login failed: FATAL " + server), std::string::npos) << sluice_.log();
    // Within server_login_retry a new client is refused at once with the cached error, in
    // PgBouncer's words...
    PqConn next(appConninfo());
    EXPECT_FALSE(next.isOk());
    EXPECT_EQ(next.sqlstate(), "08P01") << next.error();
    EXPECT_NE(next.error().find("server login has been failing, cached error: " + server + " (server_login_retry)"),
              std::string::npos)
        << next.error();
    // ...but not once the configuration is fixed: the next client gets a fresh try.
    ASSERT_TRUE(sluice_.reload(basicIni(pg, sluice_.port(), "",
                                        "app = host=" + pg.host() + " port=" + std::to_string(pg.port()) +
                                            " dbname=app user=app password=apppass\n")));
    // The workers take the new configuration a moment after the signal ("got SIGHUP" is logged
    // before): until then a client may still get the cached error, never after.
    std::string lastError;
    auto logsIn = [&] {
        PqConn fixed(appConninfo());
        lastError = fixed.error();
        return fixed.isOk();
    };
    deadline = Clock::now() + 10s;
    bool fixed = false;
    while (!(fixed = logsIn()) && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(fixed) << lastError << "\n" << sluice_.log();
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(logsIn()) << lastError;
}

}  // namespace
}  // namespace sluice::itest
