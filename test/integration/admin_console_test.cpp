// The admin console as psql and monitoring see it: libpq connected to the virtual database
// "pgbouncer" (or its alias "sluice") of a running Sluice. Every SHOW with PgBouncer 1.25's
// columns and types, the rows of real clients and servers, statistics that move, and the control
// commands (PAUSE, RESUME, KILL, KILL_CLIENT, DISABLE, ENABLE, RECONNECT, WAIT_CLOSE, RELOAD, SET,
// SHUTDOWN) doing what they say, with the access rules of admin_users and stats_users.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../pgbouncer_columns.h"
#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"

namespace sluice::itest {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using namespace sluice::testing_columns;

// ---- Helpers ----

// A query's column names and type OIDs (QueryResult has the names only), every wait bounded.
struct Described {
    bool ok = false;
    std::string error;
    Columns columns;
    int rows = 0;
};

Described describeQuery(PGconn* conn, const std::string& sql, std::chrono::milliseconds timeout = 5s) {
    Described out;
    if (PQsendQuery(conn, sql.c_str()) == 0) {
        out.error = PQerrorMessage(conn);
        return out;
    }
    const auto deadline = Clock::now() + timeout;
    bool failed = false;
    for (;;) {
        while (PQisBusy(conn)) {
            if (!waitFd(PQsocket(conn), POLLIN, deadline)) {
                out.error = "no answer within " + std::to_string(timeout.count()) + " ms";
                return out;
            }
            if (PQconsumeInput(conn) == 0) break;
        }
        PGresult* result = PQgetResult(conn);
        if (!result) break;
        if (PQresultStatus(result) == PGRES_TUPLES_OK) {
            out.columns.clear();
            for (int c = 0; c < PQnfields(result); ++c) out.columns.emplace_back(PQfname(result, c), PQftype(result, c));
            out.rows = PQntuples(result);
        } else if (PQresultStatus(result) != PGRES_COMMAND_OK) {
            failed = true;
            out.error = PQresultErrorMessage(result);
        }
        PQclear(result);
    }
    out.ok = !failed && PQstatus(conn) == CONNECTION_OK;
    return out;
}

// The value of `column` in the first row whose `keyColumn` is `key`; "<missing>" when none.
std::string cell(const QueryResult& result, const std::string& keyColumn, const std::string& key,
                 const std::string& column) {
    int k = -1, c = -1;
    for (size_t i = 0; i < result.columns.size(); ++i) {
        if (result.columns[i] == keyColumn) k = static_cast<int>(i);
        if (result.columns[i] == column) c = static_cast<int>(i);
    }
    if (k < 0 || c < 0) return "<missing>";
    for (const auto& row : result.rows)
        if (row[k] == key) return row[c];
    return "<missing>";
}

// The row (as column → value) matching every given column = value; empty when none.
std::map<std::string, std::string> findRow(const QueryResult& result,
                                           const std::vector<std::pair<std::string, std::string>>& match) {
    for (const auto& row : result.rows) {
        std::map<std::string, std::string> named;
        for (size_t i = 0; i < result.columns.size() && i < row.size(); ++i) named[result.columns[i]] = row[i];
        bool all = true;
        for (const auto& [column, value] : match) all &= named.count(column) && named[column] == value;
        if (all) return named;
    }
    return {};
}

long long number(const std::string& text) {
    try {
        return std::stoll(text);
    } catch (...) {
        return -1;
    }
}

// True when a complete result arrives within `limit` (the connection stays usable either way).
bool answerArrives(PqConn& conn, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
        if (!waitFd(PQsocket(conn.raw()), POLLIN, deadline)) return false;
        if (PQconsumeInput(conn.raw()) == 0) return true;  // broken: that is an answer too
        if (!PQisBusy(conn.raw())) return true;
    }
    return false;
}

template <class Fn>
bool eventually(Fn condition, std::chrono::milliseconds limit = 5s) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return condition();
}

std::string replaceDir(std::string text, const std::string& dir) {
    for (size_t pos = 0; (pos = text.find("@DIR@", pos)) != std::string::npos; pos += dir.size())
        text.replace(pos, 5, dir);
    return text;
}

class AdminConsole : public ::testing::Test {
protected:
    std::string ini(const std::string& extra = "") { return basicIni(sharedPg(), port_, extra); }

    ::testing::AssertionResult start(const std::string& extra = "") { return sluice_.start(ini(extra)); }

    PqConn admin(const std::string& db = "pgbouncer") {
        return PqConn(sluice_.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, db), 5s);
    }

    PqConn client(const std::string& applicationName = "", const std::string& db = "app") {
        return PqConn(conninfo({{"host", "127.0.0.1"},
                                {"port", std::to_string(sluice_.port())},
                                {"user", "app"},
                                {"password", "apppass"},
                                {"dbname", db},
                                {"sslmode", "disable"},
                                {"application_name", applicationName}}),
                      5s);
    }

    // The console over the unix socket as the pooler's own OS user: "pgbouncer", no password.
    PqConn localConsole() {
        return PqConn(conninfo({{"host", sluice_.dir()},
                                {"port", std::to_string(sluice_.port())},
                                {"user", "pgbouncer"},
                                {"dbname", "pgbouncer"},
                                {"passfile", "/nonexistent"}}),
                      5s);
    }

    // A console command that must succeed; its result.
    QueryResult run(PqConn& console, const std::string& sql) {
        QueryResult result = console.exec(sql, 5s);
        EXPECT_TRUE(result.ok) << sql << ": " << result.describe() << "\n" << log();
        return result;
    }

    // The pooler's last lines, and how it ended if it is gone.
    std::string log() {
        std::string out = lastLines(sluice_.log(), 30);
        if (auto code = sluice_.waitExit(0ms)) out += "--- sluice exited: status " + std::to_string(*code) + "\n";
        return out;
    }

    int port_ = freePort();
    SluiceProcess sluice_;
};

// ---- Every SHOW ----

TEST_F(AdminConsole, EveryShowAnswersWithPgBouncersColumnsAndTypes) {
    ASSERT_TRUE(start());
    PqConn console = admin();
    ASSERT_TRUE(console.isOk()) << console.error() << "\n" << log();
    const std::vector<std::pair<std::string, Columns>> shows = {
        {"SHOW POOLS", kPoolsColumns},
        {"SHOW CLIENTS", kSocketColumns},
        {"SHOW SERVERS", kSocketColumns},
        {"SHOW SOCKETS", socketsColumns()},
        {"SHOW ACTIVE_SOCKETS", socketsColumns()},
        {"SHOW DATABASES", kDatabasesColumns},
        {"SHOW USERS", kUsersColumns},
        {"SHOW STATS", kStatsColumns},
        {"SHOW STATS_TOTALS", kStatsTotalsColumns},
        {"SHOW STATS_AVERAGES", kStatsAveragesColumns},
        {"SHOW TOTALS", kTotalsColumns},
        {"SHOW LISTS", kListsColumns},
        {"SHOW CONFIG", kConfigColumns},
        {"SHOW MEM", kMemColumns},
        {"SHOW STATE", kStateColumns},
        {"SHOW VERSION", kVersionColumns},
        {"SHOW FDS", kFdsColumns},
        {"SHOW DNS_HOSTS", kDnsHostsColumns},
        {"SHOW DNS_ZONES", kDnsZonesColumns},
        {"SHOW PEERS", kPeersColumns},
        {"SHOW PEER_POOLS", kPeerPoolsColumns},
    };
    for (const auto& [sql, expected] : shows) {
        SCOPED_TRACE(sql);
        Described described = describeQuery(console.raw(), sql);
        ASSERT_TRUE(described.ok) << described.error << "\n" << log();
        std::vector<std::string> names, expectedNames;
        for (const auto& [name, type] : described.columns) names.push_back(name);
        for (const auto& [name, type] : expected) expectedNames.push_back(name);
        EXPECT_EQ(names, expectedNames);
        for (size_t i = 0; i < expected.size() && i < described.columns.size(); ++i)
            EXPECT_EQ(described.columns[i].second, expected[i].second) << "type of " << expected[i].first;
    }
    // The same through QueryResult (PQfname), in lower case as written, and rows where there must be some.
    QueryResult config = run(console, "show config");
    EXPECT_GT(config.rows.size(), 50u);
    EXPECT_EQ(cell(config, "key", "default_pool_size", "value"), "5");
    EXPECT_EQ(cell(config, "key", "listen_port", "value"), std::to_string(sluice_.port()));
    EXPECT_EQ(cell(config, "key", "listen_port", "changeable"), "no");
    QueryResult version = run(console, "SHOW VERSION;");
    ASSERT_EQ(version.rows.size(), 1u);
    EXPECT_NE(version.value().find("Sluice"), std::string::npos) << version.value();
    QueryResult clients = run(console, "SHOW CLIENTS");
    EXPECT_FALSE(findRow(clients, {{"database", "pgbouncer"}, {"user", PgServer::kSuperuser}}).empty())
        << "the console's own client is listed";
    QueryResult state = run(console, "SHOW STATE");
    EXPECT_EQ(cell(state, "key", "active", "value"), "yes");
    EXPECT_EQ(cell(state, "key", "paused", "value"), "no");
    EXPECT_EQ(cell(state, "key", "suspended", "value"), "no");
    // What drivers ask every server.
    EXPECT_EQ(run(console, "SHOW client_encoding").value(), "UTF8");
}

TEST_F(AdminConsole, TheSluiceAliasAndShowHelp) {
    ASSERT_TRUE(start());
    PqConn console = admin("sluice");
    ASSERT_TRUE(console.isOk()) << console.error() << "\n" << log();
    EXPECT_EQ(run(console, "SHOW HELP").commandTag, "SHOW");
    bool usage = false;
    for (const auto& notice : console.notices()) usage |= notice.find("Console usage") != std::string::npos;
    EXPECT_TRUE(usage) << "SHOW HELP answers with the NOTICE \"Console usage\"";
    QueryResult pools = run(console, "SHOW POOLS");
    EXPECT_EQ(cell(pools, "database", "pgbouncer", "user"), "pgbouncer");
    EXPECT_GE(number(cell(pools, "database", "pgbouncer", "cl_active")), 1);
}

// ---- Real clients in the SHOWs ----

TEST_F(AdminConsole, ApplicationNameAddHostNamesTheClientsAddressAndPort) {
    ASSERT_TRUE(start("application_name_add_host = 1\n"));
    PqConn app = client("reports");
    ASSERT_TRUE(app.isOk()) << app.error() << "\n" << log();
    sockaddr_in local{};
    socklen_t length = sizeof local;
    ASSERT_EQ(getsockname(PQsocket(app.raw()), reinterpret_cast<sockaddr*>(&local), &length), 0);
    // PgBouncer's format, as the server (and SHOW CLIENTS) see it.
    const std::string expected = "reports - 127.0.0.1:" + std::to_string(ntohs(local.sin_port));
    EXPECT_EQ(app.exec("SELECT current_setting('application_name')").value(), expected);
    PqConn console = admin();
    ASSERT_TRUE(console.isOk()) << console.error();
    EXPECT_FALSE(findRow(run(console, "SHOW CLIENTS"), {{"application_name", expected}}).empty());
}

TEST_F(AdminConsole, PoolsClientsAndServersShowASessionClientAndItsBackend) {
    ASSERT_TRUE(start());
    PqConn app = client("pools-test");
    ASSERT_TRUE(app.isOk()) << app.error() << "\n" << log();
    const std::string backendPid = app.exec("SELECT pg_backend_pid()").value();
    ASSERT_FALSE(backendPid.empty());
    sockaddr_in local{};
    socklen_t length = sizeof local;
    ASSERT_EQ(getsockname(PQsocket(app.raw()), reinterpret_cast<sockaddr*>(&local), &length), 0);
    const std::string clientPort = std::to_string(ntohs(local.sin_port));

    PqConn console = admin();
    ASSERT_TRUE(console.isOk()) << console.error();

    QueryResult pools = run(console, "SHOW POOLS");
    auto pool = findRow(pools, {{"database", "app"}, {"user", "app"}});
    ASSERT_FALSE(pool.empty()) << "no app/app row in SHOW POOLS";
    EXPECT_EQ(pool["cl_active"], "1");
    EXPECT_EQ(pool["cl_waiting"], "0");
    EXPECT_EQ(pool["sv_active"], "1");
    EXPECT_EQ(pool["sv_idle"], "0");
    EXPECT_EQ(pool["sv_login"], "0");
    EXPECT_EQ(pool["maxwait"], "0");
    EXPECT_EQ(pool["pool_mode"], "session");

    QueryResult clients = run(console, "SHOW CLIENTS");
    auto me = findRow(clients, {{"application_name", "pools-test"}});
    ASSERT_FALSE(me.empty()) << "the app client is not in SHOW CLIENTS";
    EXPECT_EQ(me["type"], "C");
    EXPECT_EQ(me["user"], "app");
    EXPECT_EQ(me["database"], "app");
    EXPECT_EQ(me["state"], "active");
    EXPECT_EQ(me["addr"], "127.0.0.1");
    EXPECT_EQ(me["port"], clientPort) << "the client's own source port";
    EXPECT_EQ(me["local_port"], std::to_string(sluice_.port()));
    EXPECT_FALSE(me["connect_time"].empty());
    EXPECT_GT(number(me["id"]), 0);

    QueryResult servers = run(console, "SHOW SERVERS");
    auto server = findRow(servers, {{"remote_pid", backendPid}});
    ASSERT_FALSE(server.empty()) << "no server with remote_pid " << backendPid << " in SHOW SERVERS";
    EXPECT_EQ(server["type"], "S");
    EXPECT_EQ(server["user"], "app");
    EXPECT_EQ(server["database"], "app");
    EXPECT_EQ(server["state"], "active");
    EXPECT_EQ(server["port"], std::to_string(sharedPg().port()));
    EXPECT_EQ(server["close_needed"], "0");
    EXPECT_EQ(server["link"], me["ptr"]) << "the server is linked to our client";
    EXPECT_EQ(me["link"], server["ptr"]) << "the client is linked to our server";

    QueryResult databases = run(console, "SHOW DATABASES");
    EXPECT_EQ(cell(databases, "name", "app", "current_connections"), "1");
    EXPECT_EQ(cell(databases, "name", "app", "current_client_connections"), "1");
    EXPECT_EQ(cell(databases, "name", "app", "pool_size"), "5");
    QueryResult users = run(console, "SHOW USERS");
    EXPECT_EQ(cell(users, "name", "app", "current_connections"), "1");
    EXPECT_EQ(cell(users, "name", "app", "current_client_connections"), "1");
    QueryResult lists = run(console, "SHOW LISTS");
    EXPECT_EQ(cell(lists, "list", "used_servers", "items"), "1");
    EXPECT_GE(number(cell(lists, "list", "used_clients", "items")), 2) << "the app client and the console";

    // Once the client leaves, its server is idle in the pool (session mode).
    app.close();
    EXPECT_TRUE(eventually([&] {
        QueryResult now = console.exec("SHOW POOLS", 5s);
        auto row = findRow(now, {{"database", "app"}, {"user", "app"}});
        return row["cl_active"] == "0" && row["sv_active"] == "0" && row["sv_idle"] == "1";
    })) << log();
}

// ---- Statistics ----

TEST_F(AdminConsole, StatsCountTheWorkOfATransactionPool) {
    ASSERT_TRUE(start("pool_mode = transaction\n"));
    PqConn app = client();
    ASSERT_TRUE(app.isOk()) << app.error() << "\n" << log();
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(app.exec("SELECT " + std::to_string(i)).ok);

    PqConn console = admin();
    ASSERT_TRUE(console.isOk()) << console.error();
    QueryResult stats = run(console, "SHOW STATS");
    auto row = findRow(stats, {{"database", "app"}});
    ASSERT_FALSE(row.empty()) << "no app row in SHOW STATS";
    EXPECT_GE(number(row["total_query_count"]), 50);
    EXPECT_GE(number(row["total_xact_count"]), 50);
    EXPECT_GE(number(row["total_server_assignment_count"]), 50) << "transaction mode: one assignment per query";
    EXPECT_GT(number(row["total_received"]), 50 * 14) << "50 Query messages of 14+ bytes";
    EXPECT_GT(number(row["total_sent"]), 0);
    EXPECT_GT(number(row["total_query_time"]), 0);
    EXPECT_GT(number(row["total_xact_time"]), 0);

    QueryResult totals = run(console, "SHOW STATS_TOTALS");
    EXPECT_GE(number(cell(totals, "database", "app", "query_count")), 50);
    EXPECT_GE(number(cell(totals, "database", "app", "xact_count")), 50);
    QueryResult all = run(console, "SHOW TOTALS");
    EXPECT_GE(number(cell(all, "name", "total_query_count", "value")), 50);
    EXPECT_GT(number(cell(all, "name", "total_client_bytes", "value")), 0);
    // As PgBouncer: each console query counts as a transaction and a query of "pgbouncer",
    // itself included.
    const double consoleQueries = number(cell(run(console, "SHOW STATS"), "database", "pgbouncer", "total_query_count"));
    EXPECT_GE(consoleQueries, 4) << "SHOW STATS, STATS_TOTALS, TOTALS and this one";
    run(console, "SHOW VERSION");
    EXPECT_EQ(number(cell(run(console, "SHOW STATS"), "database", "pgbouncer", "total_xact_count")), consoleQueries + 2);

    // More work: the totals move on.
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(app.exec("SELECT 1").ok);
    QueryResult later = run(console, "SHOW STATS");
    EXPECT_GE(number(cell(later, "database", "app", "total_query_count")), number(row["total_query_count"]) + 10);
}

TEST_F(AdminConsole, AveragesAppearAfterAStatsPeriodOfWork) {
    ASSERT_TRUE(start("pool_mode = transaction\nstats_period = 1\n"));
    PqConn app = client();
    PqConn console = admin();
    ASSERT_TRUE(app.isOk() && console.isOk()) << app.error() << console.error() << "\n" << log();
    // Steady work while watching: some complete period must contain queries.
    std::map<std::string, std::string> seen;
    const bool appeared = eventually(
        [&] {
            for (int i = 0; i < 5; ++i)
                if (!app.exec("SELECT 1").ok) return false;
            QueryResult averages = console.exec("SHOW STATS_AVERAGES", 5s);
            seen = findRow(averages, {{"database", "app"}});
            return number(seen["query_count"]) > 0;
        },
        3500ms);
    ASSERT_TRUE(appeared) << "SHOW STATS_AVERAGES never showed queries for app\n" << log();
    EXPECT_GT(number(seen["xact_count"]), 0);
    EXPECT_GT(number(seen["bytes_received"]), 0);
    EXPECT_GT(number(seen["bytes_sent"]), 0);
    EXPECT_GT(number(seen["query_time"]), 0);
    EXPECT_GT(number(seen["server_assignment_count"]), 0);
}

TEST_F(AdminConsole, TheFirstStatsPeriodIsAveragedToo) {
    // As PgBouncer: the first stats_period after start is measured from zero, so work done in it
    // shows in the averages once the period ends (here within 1 s, for the next second).
    ASSERT_TRUE(start("pool_mode = transaction\nstats_period = 1\n"));
    PqConn app = client();
    ASSERT_TRUE(app.isOk()) << app.error() << "\n" << log();
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(app.exec("SELECT 1").ok);
    PqConn console = admin();
    ASSERT_TRUE(console.isOk()) << console.error();
    const bool appeared = eventually(
        [&] {
            QueryResult stats = console.exec("SHOW STATS", 5s);
            return number(cell(stats, "database", "app", "avg_query_count")) > 0;
        },
        2500ms);
    EXPECT_TRUE(appeared) << "50 queries in the first stats_period never showed in avg_query_count\n" << log();
}

// ---- PAUSE / RESUME ----

TEST_F(AdminConsole, PauseMakesQueriesWaitAndResumeRunsThem) {
    ASSERT_TRUE(start("pool_mode = transaction\n"));
    PqConn app = client();
    ASSERT_TRUE(app.isOk()) << app.error() << "\n" << log();
    ASSERT_TRUE(app.exec("SELECT 1").ok);
    PqConn console = admin();
    ASSERT_TRUE(console.isOk()) << console.error();

    QueryResult paused = run(console, "PAUSE");
    EXPECT_EQ(paused.commandTag, "PAUSE");
    QueryResult state = run(console, "SHOW STATE");
    EXPECT_EQ(cell(state, "key", "paused", "value"), "yes");
    EXPECT_EQ(cell(state, "key", "active", "value"), "no");
    QueryResult databases = run(console, "SHOW DATABASES");
    EXPECT_EQ(cell(databases, "name", "app", "paused"), "1");
    QueryResult servers = run(console, "SHOW SERVERS");
    EXPECT_TRUE(findRow(servers, {{"database", "app"}}).empty()) << "PAUSE answers once the servers are gone";

    QueryResult again = console.exec("PAUSE", 5s);
    EXPECT_FALSE(again.ok) << "a second PAUSE";
    EXPECT_NE(again.error.find("paused"), std::string::npos) << again.describe();

    ASSERT_TRUE(app.send("SELECT 42"));
    EXPECT_FALSE(answerArrives(app, 600ms)) << "a query ran during PAUSE";
    EXPECT_TRUE(eventually([&] {
        QueryResult pools = console.exec("SHOW POOLS", 5s);
        return cell(pools, "database", "app", "cl_waiting") == "1";
    })) << "the paused client should be counted as waiting";

    QueryResult resumed = run(console, "RESUME");
    EXPECT_EQ(resumed.commandTag, "RESUME");
    QueryResult result = app.collect(5s);
    ASSERT_TRUE(result.ok) << result.describe() << "\n" << log();
    EXPECT_EQ(result.value(), "42");
    state = run(console, "SHOW STATE");
    EXPECT_EQ(cell(state, "key", "paused", "value"), "no");
    EXPECT_EQ(cell(state, "key", "active", "value"), "yes");

    QueryResult notPaused = console.exec("RESUME", 5s);
    EXPECT_FALSE(notPaused.ok) << "RESUME when nothing is paused";
}

TEST_F(AdminConsole, PauseWaitsForAnActiveSessionClientToLeave) {
    ASSERT_TRUE(start());
    PqConn app = client();
    ASSERT_TRUE(app.isOk()) << app.error() << "\n" << log();
    ASSERT_TRUE(app.exec("SELECT 1").ok);  // the session holds its server
    PqConn console = admin();
    PqConn watcher = admin();
    ASSERT_TRUE(console.isOk() && watcher.isOk()) << console.error() << watcher.error();

    ASSERT_TRUE(console.send("PAUSE"));
    EXPECT_FALSE(answerArrives(console, 700ms)) << "PAUSE answered while a session still holds a server";
    QueryResult state = run(watcher, "SHOW STATE");
    EXPECT_EQ(cell(state, "key", "paused", "value"), "yes") << "paused already, answered later";

    app.close();
    QueryResult paused = console.collect(5s);
    ASSERT_TRUE(paused.ok) << paused.describe() << "\n" << log();
    EXPECT_EQ(paused.commandTag, "PAUSE");
    QueryResult servers = run(watcher, "SHOW SERVERS");
    EXPECT_TRUE(findRow(servers, {{"database", "app"}}).empty()) << "the released server is closed";
    EXPECT_TRUE(run(console, "RESUME").ok);
    PqConn next = client();
    ASSERT_TRUE(next.isOk()) << next.error();
    EXPECT_EQ(next.exec("SELECT 7", 5s).value(), "7");
}

TEST_F(AdminConsole, PauseAndResumeOneDatabase) {
    ASSERT_TRUE(start("pool_mode = transaction\n"));
    PqConn app = client();
    PqConn other(sluice_.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "postgres"), 5s);
    PqConn console = admin();
    ASSERT_TRUE(app.isOk() && other.isOk() && console.isOk())
        << app.error() << other.error() << console.error() << "\n" << log();

    EXPECT_EQ(run(console, "PAUSE app").commandTag, "PAUSE");
    QueryResult databases = run(console, "SHOW DATABASES");
    EXPECT_EQ(cell(databases, "name", "app", "paused"), "1");
    EXPECT_EQ(cell(databases, "name", "postgres", "paused"), "0");
    QueryResult state = run(console, "SHOW STATE");
    EXPECT_EQ(cell(state, "key", "paused", "value"), "no") << "only one database is paused";

    ASSERT_TRUE(app.send("SELECT 1"));
    EXPECT_FALSE(answerArrives(app, 600ms)) << "a query on the paused database ran";
    QueryResult elsewhere = other.exec("SELECT 2", 5s);
    EXPECT_TRUE(elsewhere.ok) << "another database keeps working: " << elsewhere.describe();

    EXPECT_EQ(run(console, "RESUME app").commandTag, "RESUME");
    QueryResult result = app.collect(5s);
    ASSERT_TRUE(result.ok) << result.describe() << "\n" << log();
    EXPECT_EQ(result.value(), "1");

    QueryResult twice = console.exec("RESUME app", 5s);
    EXPECT_FALSE(twice.ok) << "RESUME of a database that is not paused";
    QueryResult self = console.exec("PAUSE pgbouncer", 5s);
    EXPECT_FALSE(self.ok) << "the console cannot be paused";
    QueryResult unknown = console.exec("PAUSE nosuchdb", 5s);
    EXPECT_FALSE(unknown.ok);
    EXPECT_NE(unknown.error.find("nosuchdb"), std::string::npos) << unknown.describe();
}

TEST_F(AdminConsole, SuspendAndResume) {
    ASSERT_TRUE(start("pool_mode = transaction\n"));
    PqConn app = client();
    PqConn console = admin();
    ASSERT_TRUE(app.isOk() && console.isOk()) << app.error() << console.error();
    ASSERT_TRUE(app.exec("SELECT 1").ok);
    EXPECT_EQ(run(console, "SUSPEND").commandTag, "SUSPEND");
    QueryResult state = run(console, "SHOW STATE");
    EXPECT_EQ(cell(state, "key", "suspended", "value"), "yes");
    ASSERT_TRUE(app.send("SELECT 3"));
    EXPECT_FALSE(answerArrives(app, 500ms)) << "a query ran while suspended";
    EXPECT_TRUE(run(console, "RESUME").ok);
    QueryResult result = app.collect(5s);
    ASSERT_TRUE(result.ok) << result.describe() << "\n" << log();
    EXPECT_EQ(result.value(), "3");
}

// ---- KILL / KILL_CLIENT ----

TEST_F(AdminConsole, KillDropsTheDatabasesClientsAndHoldsNewQueriesUntilResume) {
    ASSERT_TRUE(start());
    PqConn first = client();
    PqConn second = client();
    PqConn other(sluice_.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "postgres"), 5s);
    PqConn console = admin();
    ASSERT_TRUE(first.isOk() && second.isOk() && other.isOk() && console.isOk()) << log();
    ASSERT_TRUE(first.exec("SELECT 1").ok);
    ASSERT_TRUE(other.exec("SELECT 1").ok);

    EXPECT_EQ(run(console, "KILL app").commandTag, "KILL");
    EXPECT_FALSE(first.exec("SELECT 1", 5s).ok) << "a killed client's next query must fail";
    EXPECT_FALSE(second.exec("SELECT 1", 5s).ok) << "a killed client's next query must fail";
    EXPECT_TRUE(other.exec("SELECT 1", 5s).ok) << "another database's client is untouched";
    EXPECT_TRUE(console.isOk()) << "the console is not killed";

    // A new client of the killed database waits until RESUME.
    PqConn late = client();
    ASSERT_TRUE(late.isOk()) << late.error();
    ASSERT_TRUE(late.send("SELECT 5"));
    EXPECT_FALSE(answerArrives(late, 600ms)) << "a query ran on a killed database before RESUME";
    EXPECT_TRUE(run(console, "RESUME app").ok);
    QueryResult result = late.collect(5s);
    ASSERT_TRUE(result.ok) << result.describe() << "\n" << log();
    EXPECT_EQ(result.value(), "5");

    QueryResult self = console.exec("KILL pgbouncer", 5s);
    EXPECT_FALSE(self.ok) << "the console cannot be killed";
}

TEST_F(AdminConsole, KillClientDropsExactlyThatClient) {
    ASSERT_TRUE(start());
    PqConn victim = client("victim");
    PqConn survivor = client("survivor");
    PqConn console = admin();
    ASSERT_TRUE(victim.isOk() && survivor.isOk() && console.isOk()) << log();
    ASSERT_TRUE(victim.exec("SELECT 1").ok);

    QueryResult clients = run(console, "SHOW CLIENTS");
    const std::string id = findRow(clients, {{"application_name", "victim"}})["id"];
    ASSERT_FALSE(id.empty()) << "victim not in SHOW CLIENTS";

    EXPECT_EQ(run(console, "KILL_CLIENT " + id).commandTag, "KILL_CLIENT");
    EXPECT_FALSE(victim.exec("SELECT 1", 5s).ok) << "the killed client must be gone";
    QueryResult alive = survivor.exec("SELECT 2", 5s);
    EXPECT_TRUE(alive.ok) << alive.describe();
    EXPECT_TRUE(eventually([&] {
        return findRow(console.exec("SHOW CLIENTS", 5s), {{"application_name", "victim"}}).empty();
    })) << "the killed client is still listed";

    QueryResult missing = console.exec("KILL_CLIENT 999999", 5s);
    EXPECT_FALSE(missing.ok);
    EXPECT_NE(missing.error.find("client not found"), std::string::npos) << missing.describe();
    QueryResult garbage = console.exec("KILL_CLIENT abc", 5s);
    EXPECT_FALSE(garbage.ok);
    EXPECT_TRUE(console.exec("SHOW VERSION", 5s).ok) << "the console is still usable";
}

// ---- DISABLE / ENABLE ----

TEST_F(AdminConsole, DisableRefusesNewClientsUntilEnable) {
    ASSERT_TRUE(start());
    PqConn existing = client();
    PqConn console = admin();
    ASSERT_TRUE(existing.isOk() && console.isOk()) << log();

    EXPECT_EQ(run(console, "DISABLE app").commandTag, "DISABLE");
    QueryResult databases = run(console, "SHOW DATABASES");
    EXPECT_EQ(cell(databases, "name", "app", "disabled"), "1");
    PqConn refused = client();
    EXPECT_FALSE(refused.isOk()) << "a new client of a disabled database got in";
    EXPECT_EQ(refused.sqlstate(), "08P01") << refused.error();
    EXPECT_NE(refused.error().find("FATAL:  database \"app\" is disabled"), std::string::npos) << refused.error();
    // As PgBouncer: the password is checked first, so only a client that logs in learns it is disabled.
    PqConn stranger(conninfo({{"host", "127.0.0.1"}, {"port", std::to_string(sluice_.port())}, {"user", "app"},
                              {"password", "wrong"}, {"dbname", "app"}, {"sslmode", "disable"}}),
                    5s);
    EXPECT_NE(stranger.error().find("password authentication failed"), std::string::npos) << stranger.error();
    EXPECT_TRUE(existing.exec("SELECT 1", 5s).ok) << "DISABLE leaves connected clients alone";

    EXPECT_EQ(run(console, "ENABLE app").commandTag, "ENABLE");
    databases = run(console, "SHOW DATABASES");
    EXPECT_EQ(cell(databases, "name", "app", "disabled"), "0");
    PqConn accepted = client();
    ASSERT_TRUE(accepted.isOk()) << accepted.error();
    EXPECT_EQ(accepted.exec("SELECT 9", 5s).value(), "9");

    QueryResult self = console.exec("DISABLE pgbouncer", 5s);
    EXPECT_FALSE(self.ok) << "the console cannot be disabled";
    QueryResult bare = console.exec("DISABLE", 5s);
    EXPECT_FALSE(bare.ok) << "DISABLE needs a database";
}

// ---- RECONNECT / WAIT_CLOSE ----

TEST_F(AdminConsole, ReconnectReplacesTheServerAfterItsTransaction) {
    ASSERT_TRUE(start("pool_mode = transaction\ndefault_pool_size = 1\n"));
    PqConn app = client();
    PqConn console = admin();
    ASSERT_TRUE(app.isOk() && console.isOk()) << log();
    const std::string before = app.exec("SELECT pg_backend_pid()").value();
    ASSERT_FALSE(before.empty());
    ASSERT_TRUE(app.exec("BEGIN").ok);

    EXPECT_EQ(run(console, "RECONNECT app").commandTag, "RECONNECT");
    QueryResult servers = run(console, "SHOW SERVERS");
    EXPECT_EQ(cell(servers, "remote_pid", before, "close_needed"), "1");

    ASSERT_TRUE(console.send("WAIT_CLOSE app"));
    EXPECT_FALSE(answerArrives(console, 500ms)) << "WAIT_CLOSE answered while the old server is in a transaction";
    EXPECT_EQ(app.exec("SELECT pg_backend_pid()").value(), before) << "the transaction keeps its server";
    ASSERT_TRUE(app.exec("COMMIT").ok);

    QueryResult waited = console.collect(5s);
    ASSERT_TRUE(waited.ok) << waited.describe() << "\n" << log();
    EXPECT_EQ(waited.commandTag, "WAIT_CLOSE");
    EXPECT_EQ(sharedPg().query1("SELECT count(*) FROM pg_stat_activity WHERE pid = " + before), "0")
        << "WAIT_CLOSE answered before the old backend was gone";
    const std::string after = app.exec("SELECT pg_backend_pid()").value();
    EXPECT_FALSE(after.empty());
    EXPECT_NE(after, before) << "the next transaction must get a new server";

    EXPECT_TRUE(run(console, "RECONNECT").ok) << "every database";
    EXPECT_TRUE(run(console, "WAIT_CLOSE").ok) << "nothing busy: answered at once";
}

// ---- RELOAD / SET ----

TEST_F(AdminConsole, ReloadAppliesTheFileAndABrokenFileKeepsTheOldConfiguration) {
    ASSERT_TRUE(start());
    PqConn console = admin();
    PqConn app = client();
    ASSERT_TRUE(console.isOk() && app.isOk()) << log();

    sluice_.writeFile("pooler.ini", replaceDir(ini("default_pool_size = 7\n"), sluice_.dir()));
    EXPECT_EQ(run(console, "RELOAD").commandTag, "RELOAD");
    EXPECT_EQ(cell(run(console, "SHOW CONFIG"), "key", "default_pool_size", "value"), "7");
    EXPECT_EQ(cell(run(console, "SHOW DATABASES"), "name", "app", "pool_size"), "7");

    sluice_.writeFile("pooler.ini", replaceDir(ini("default_pool_size = lots\n"), sluice_.dir()));
    QueryResult broken = console.exec("RELOAD", 5s);
    EXPECT_FALSE(broken.ok) << "RELOAD of a broken file must fail";
    EXPECT_EQ(broken.sqlstate, "F0000") << broken.describe();
    EXPECT_NE(broken.detail.find("default_pool_size"), std::string::npos) << broken.describe();
    EXPECT_EQ(cell(run(console, "SHOW CONFIG"), "key", "default_pool_size", "value"), "7") << "the old config stays";
    EXPECT_EQ(app.exec("SELECT 11", 5s).value(), "11") << "and keeps serving";
    QueryResult extra = console.exec("RELOAD now", 5s);
    EXPECT_FALSE(extra.ok) << "RELOAD takes no argument";
}

TEST_F(AdminConsole, SetChangesASettingAtRunTime) {
    ASSERT_TRUE(start());
    PqConn console = admin();
    ASSERT_TRUE(console.isOk()) << console.error();

    EXPECT_EQ(run(console, "SET default_pool_size = 3").commandTag, "SET default_pool_size=3");
    EXPECT_EQ(cell(run(console, "SHOW CONFIG"), "key", "default_pool_size", "value"), "3");
    run(console, "set server_reset_query = 'DISCARD ALL'");
    EXPECT_EQ(cell(run(console, "SHOW CONFIG"), "key", "server_reset_query", "value"), "DISCARD ALL");

    QueryResult restartOnly = console.exec("SET listen_port = 1", 5s);
    EXPECT_FALSE(restartOnly.ok);
    EXPECT_NE(restartOnly.error.find("listen_port"), std::string::npos) << restartOnly.describe();
    EXPECT_NE(restartOnly.error.find("while running"), std::string::npos)
        << "the error must say it cannot be changed at run time: " << restartOnly.describe();
    EXPECT_EQ(cell(run(console, "SHOW CONFIG"), "key", "listen_port", "value"), std::to_string(sluice_.port()));

    QueryResult bad = console.exec("SET default_pool_size = many", 5s);
    EXPECT_FALSE(bad.ok);
    EXPECT_NE(bad.error.find("default_pool_size"), std::string::npos) << bad.describe();
    QueryResult unknown = console.exec("SET no_such_setting = 1", 5s);
    EXPECT_FALSE(unknown.ok);

    EXPECT_EQ(run(console, "SET client_encoding = 'UTF8'").commandTag, "SET");
    bool ignored = false;
    for (const auto& notice : console.notices()) ignored |= notice.find("SET ignored") != std::string::npos;
    EXPECT_TRUE(ignored) << "SET client_encoding answers with the NOTICE \"SET ignored\"";
}

// ---- Who may do what ----

TEST_F(AdminConsole, AStatsUserMayLookButNotTouchAndOthersAreRefused) {
    sluice_.writeFile("userlist.txt", defaultUserlist() + "\"other\" \"otherpass\"\n");
    ASSERT_TRUE(start("stats_users = app\n"));
    PqConn viewer(sluice_.conninfo("app", "apppass", "pgbouncer"), 5s);
    ASSERT_TRUE(viewer.isOk()) << viewer.error() << "\n" << log();
    for (const char* show : {"SHOW POOLS", "SHOW STATS", "SHOW CLIENTS", "SHOW CONFIG", "SHOW DATABASES"}) {
        QueryResult result = viewer.exec(show, 5s);
        EXPECT_TRUE(result.ok) << show << ": " << result.describe();
    }
    for (const char* command : {"PAUSE", "RESUME", "SET default_pool_size = 2", "SHOW FDS", "KILL app", "RELOAD",
                                "DISABLE app", "SHUTDOWN"}) {
        QueryResult result = viewer.exec(command, 5s);
        EXPECT_FALSE(result.ok) << command << " by a stats user";
        EXPECT_NE(result.error.find("admin access needed"), std::string::npos) << command << ": " << result.describe();
    }
    EXPECT_TRUE(viewer.isOk()) << "refusals keep the session";
    PqConn console = admin();
    ASSERT_TRUE(console.isOk());
    EXPECT_EQ(cell(run(console, "SHOW STATE"), "key", "paused", "value"), "no") << "nothing was paused";
    EXPECT_EQ(cell(run(console, "SHOW CONFIG"), "key", "default_pool_size", "value"), "5") << "nothing was set";

    PqConn stranger(sluice_.conninfo("other", "otherpass", "pgbouncer"), 5s);
    EXPECT_FALSE(stranger.isOk()) << "a user in neither admin_users nor stats_users got in";
    EXPECT_NE(stranger.error().find("admin_users"), std::string::npos) << stranger.error();
    PqConn wrongPassword(sluice_.conninfo(PgServer::kSuperuser, "nope", "pgbouncer"), 5s);
    EXPECT_FALSE(wrongPassword.isOk()) << "an admin user with a wrong password got in";
}

// As PgBouncer: the console's pseudo-database counts against max_db_client_connections and a
// console client against its user's max_user_client_connections (admin_users are counted but
// never refused), and SHOW DATABASES gives the console's row the global limits.
TEST_F(AdminConsole, MaxDbClientConnectionsAppliesToTheConsoleExceptForAdmins) {
    ASSERT_TRUE(start("stats_users = app\nmax_db_client_connections = 1\nmax_db_connections = 7\n"));
    PqConn viewer = client("", "pgbouncer");
    ASSERT_TRUE(viewer.isOk()) << viewer.error() << "\n" << log();
    PqConn second = client("", "sluice");  // the alias is the same database
    EXPECT_FALSE(second.isOk()) << "a second console client beyond max_db_client_connections = 1";
    EXPECT_EQ(second.sqlstate(), "08P01") << second.error();
    EXPECT_NE(second.error().find("client connections exceeded (max_db_client_connections)"), std::string::npos)
        << second.error();
    PqConn console = admin();
    ASSERT_TRUE(console.isOk()) << "admin_users are never refused: " << console.error() << "\n" << log();
    QueryResult databases = run(console, "SHOW DATABASES");
    EXPECT_EQ(cell(databases, "name", "pgbouncer", "max_client_connections"), "1");
    EXPECT_EQ(cell(databases, "name", "pgbouncer", "current_client_connections"), "2");
    EXPECT_EQ(cell(databases, "name", "pgbouncer", "max_connections"), "7");
    EXPECT_EQ(cell(databases, "name", "pgbouncer", "server_lifetime"), "3600");
    viewer.close();  // the admin still counts: the one place stays taken
    EXPECT_FALSE(client("", "pgbouncer").isOk());
    console.close();
    EXPECT_TRUE(eventually([&] { return client("", "pgbouncer").isOk(); })) << log();
}

TEST_F(AdminConsole, MaxUserClientConnectionsCountsConsoleAndPoolClientsOfTheUserTogether) {
    ASSERT_TRUE(start("stats_users = app\n[users]\napp = max_user_client_connections=1\n"));
    PqConn pooled = client();
    ASSERT_TRUE(pooled.isOk()) << pooled.error() << "\n" << log();
    PqConn viewer = client("", "pgbouncer");
    EXPECT_FALSE(viewer.isOk()) << "user app's one client is on database app already";
    EXPECT_EQ(viewer.sqlstate(), "08P01") << viewer.error();
    EXPECT_NE(viewer.error().find("client connections exceeded (max_user_client_connections)"), std::string::npos)
        << viewer.error();
    pooled.close();
    EXPECT_TRUE(eventually([&] { return client("", "pgbouncer").isOk(); })) << log();
}

TEST_F(AdminConsole, WithAuthTypeAnyAnyUserIsAStatsUser) {
    ASSERT_TRUE(start("auth_type = any\n"));
    PqConn anyone(conninfo({{"host", "127.0.0.1"},
                            {"port", std::to_string(sluice_.port())},
                            {"user", "whoever"},
                            {"dbname", "pgbouncer"},
                            {"sslmode", "disable"}}),
                  5s);
    ASSERT_TRUE(anyone.isOk()) << anyone.error() << "\n" << log();
    EXPECT_TRUE(anyone.exec("SHOW POOLS", 5s).ok);
    QueryResult pause = anyone.exec("PAUSE", 5s);
    EXPECT_FALSE(pause.ok);
    EXPECT_NE(pause.error.find("admin access needed"), std::string::npos) << pause.describe();
    PqConn console(conninfo({{"host", "127.0.0.1"},
                             {"port", std::to_string(sluice_.port())},
                             {"user", PgServer::kSuperuser},
                             {"dbname", "pgbouncer"},
                             {"sslmode", "disable"}}),
                   5s);
    ASSERT_TRUE(console.isOk()) << console.error();
    EXPECT_TRUE(run(console, "PAUSE").ok) << "admin_users stay admins";
    EXPECT_TRUE(run(console, "RESUME").ok);
}

TEST_F(AdminConsole, UserPgbouncerOnTheUnixSocketNeedsNoPasswordButOnTcpItDoes) {
    ASSERT_TRUE(start());
    PqConn local = localConsole();
    ASSERT_TRUE(local.isOk()) << local.error() << "\n" << log();
    EXPECT_TRUE(local.exec("SHOW POOLS", 5s).ok);
    QueryResult pause = local.exec("PAUSE", 5s);
    EXPECT_TRUE(pause.ok) << "the pooler's own unix user is an admin: " << pause.describe();
    EXPECT_TRUE(local.exec("RESUME", 5s).ok);

    PqConn remote(conninfo({{"host", "127.0.0.1"},
                            {"port", std::to_string(sluice_.port())},
                            {"user", "pgbouncer"},
                            {"dbname", "pgbouncer"},
                            {"sslmode", "disable"},
                            {"passfile", "/nonexistent"}}),
                  5s);
    EXPECT_FALSE(remote.isOk()) << "user pgbouncer over TCP without a password got in";
}

// ---- SHUTDOWN ----

TEST_F(AdminConsole, ShutdownWaitForClientsExitsOnceTheLastClientLeaves) {
    ASSERT_TRUE(start());
    PqConn app = client();
    PqConn console = admin();
    ASSERT_TRUE(app.isOk() && console.isOk()) << log();
    ASSERT_TRUE(app.exec("SELECT 1").ok);

    QueryResult shutdown = run(console, "SHUTDOWN WAIT_FOR_CLIENTS");
    EXPECT_EQ(shutdown.commandTag, "SHUTDOWN");
    EXPECT_FALSE(sluice_.waitExit(500ms).has_value()) << "exited while a client was still connected";
    EXPECT_EQ(app.exec("SELECT 2", 5s).value(), "2") << "connected clients keep working";
    PqConn late = client();
    EXPECT_FALSE(late.isOk()) << "TCP is closed during the shutdown";
    // The unix socket stays for the console; a database login there is refused in PgBouncer's words.
    PqConn local = localConsole();
    ASSERT_TRUE(local.isOk()) << local.error() << log();
    EXPECT_TRUE(local.exec("SHOW VERSION", 5s).ok);
    PqConn viaSocket(conninfo({{"host", sluice_.dir()}, {"port", std::to_string(sluice_.port())}, {"user", "app"},
                               {"password", "apppass"}, {"dbname", "app"}}));
    EXPECT_FALSE(viaSocket.isOk());
    EXPECT_EQ(viaSocket.sqlstate(), "08P01") << viaSocket.error();
    EXPECT_NE(viaSocket.error().find("pooler is shutting down"), std::string::npos) << viaSocket.error();
    local.close();

    app.close();
    console.close();
    auto code = sluice_.waitExit(5s);
    ASSERT_TRUE(code.has_value()) << "still running after the last client left\n" << log();
    EXPECT_EQ(*code, 0) << log();
}

// As PgBouncer 1.25: TCP closes, the unix socket stays for the console; a transaction in
// progress finishes; a client that needs a server afterwards — queued, or starting its next
// transaction — is closed; the process exits once no server is in use.
TEST_F(AdminConsole, ShutdownWaitForServersLetsTheTransactionFinishAndClosesTheRest) {
    ASSERT_TRUE(start("pool_mode = transaction\ndefault_pool_size = 1\n"));
    PqConn inTransaction = client(), queued = client(), console = admin();
    ASSERT_TRUE(inTransaction.isOk() && queued.isOk() && console.isOk()) << log();
    ASSERT_TRUE(inTransaction.exec("BEGIN").ok);
    ASSERT_TRUE(inTransaction.exec("SELECT 1").ok);
    ASSERT_TRUE(queued.send("SELECT 'queued'"));  // waits: the pool's one server is taken
    ASSERT_TRUE(eventually([&] {
        QueryResult pools = console.exec("SHOW POOLS", 5s);
        for (const auto& row : pools.rows)
            if (row[0] == "app" && row[1] == "app") return row[3] == "1";  // cl_waiting
        return false;
    })) << log();

    EXPECT_EQ(run(console, "SHUTDOWN WAIT_FOR_SERVERS").commandTag, "SHUTDOWN");
    QueryResult refused = queued.collect(5s);
    EXPECT_NE(refused.error.find("server shutting down"), std::string::npos) << refused.describe();
    EXPECT_EQ(inTransaction.exec("SELECT 2", 5s).value(), "2") << "the transaction in progress goes on";
    ASSERT_TRUE(inTransaction.exec("COMMIT", 5s).ok);
    EXPECT_FALSE(client().isOk()) << "TCP is closed";
    PqConn local = localConsole();
    EXPECT_TRUE(local.isOk()) << "the unix socket stays for the console: " << local.error() << log();
    EXPECT_TRUE(local.exec("SHOW VERSION", 5s).ok);
    // Its next transaction needs a server: closed. Then no server is in use, and Sluice exits.
    QueryResult next = inTransaction.exec("SELECT 3", 5s);
    EXPECT_NE(next.error.find("server shutting down"), std::string::npos) << next.describe();
    auto code = sluice_.waitExit(10s);
    ASSERT_TRUE(code.has_value()) << "still running with no server in use\n" << log();
    EXPECT_EQ(*code, 0);
    EXPECT_NE(sluice_.log().find("server connections dropped, exiting"), std::string::npos) << log();
}

TEST_F(AdminConsole, SignalsDuringAShutdownAsPgBouncer) {
    ASSERT_TRUE(start());
    PqConn app = client();
    ASSERT_TRUE(app.isOk()) << log();
    ASSERT_TRUE(sluice_.signal(SIGTERM));
    ASSERT_TRUE(eventually([&] {
        return sluice_.log().find("got SIGTERM, shutting down, waiting for all clients disconnect") != std::string::npos;
    })) << log();
    ASSERT_TRUE(sluice_.signal(SIGUSR2));
    ASSERT_TRUE(eventually([&] {
        return sluice_.log().find("got SIGUSR2 while shutting down, ignoring") != std::string::npos;
    })) << log();
    EXPECT_EQ(app.exec("SELECT 1", 5s).value(), "1") << "clients keep working";
    ASSERT_TRUE(sluice_.signal(SIGINT));
    auto code = sluice_.waitExit(10s);
    ASSERT_TRUE(code.has_value()) << "SIGINT during a shutdown is a fast exit\n" << log();
    EXPECT_NE(sluice_.log().find("got SIGINT while shutting down, fast exit"), std::string::npos) << log();
}

TEST_F(AdminConsole, PlainShutdownExitsAtOnce) {
    ASSERT_TRUE(start());
    PqConn app = client();
    PqConn console = admin();
    ASSERT_TRUE(app.isOk() && console.isOk()) << log();
    ASSERT_TRUE(app.exec("SELECT 1").ok);
    console.exec("SHUTDOWN", 5s);  // no answer: the console's connection ends with the process
    auto code = sluice_.waitExit(5s);
    ASSERT_TRUE(code.has_value()) << "SHUTDOWN did not end the process\n" << log();
    EXPECT_EQ(*code, 0) << log();
    EXPECT_FALSE(app.exec("SELECT 1", 5s).ok);
}

// ---- Bad input ----

TEST_F(AdminConsole, BadInputGetsAnErrorAndTheSessionSurvivesWhereItCan) {
    ASSERT_TRUE(start());
    PqConn console = admin();
    ASSERT_TRUE(console.isOk()) << console.error();

    QueryResult empty = console.exec("", 5s);
    EXPECT_TRUE(empty.ok) << empty.describe();
    EXPECT_TRUE(console.exec(";", 5s).ok);

    QueryResult two = console.exec("SHOW POOLS; SHOW STATS", 5s);
    EXPECT_FALSE(two.ok) << "two commands in one query";
    EXPECT_EQ(two.sqlstate, "42601") << two.describe();
    EXPECT_NE(two.error.find("SHOW HELP"), std::string::npos) << two.describe();
    QueryResult garbage = console.exec("FROBNICATE", 5s);
    EXPECT_FALSE(garbage.ok);
    EXPECT_NE(garbage.error.find("SHOW HELP"), std::string::npos) << garbage.describe();
    QueryResult unknownShow = console.exec("SHOW NOTHING_LIKE_THIS", 5s);
    EXPECT_FALSE(unknownShow.ok);
    QueryResult sql = console.exec("SELECT * FROM pg_class", 5s);
    EXPECT_FALSE(sql.ok) << "the console is not a SQL database";
    EXPECT_EQ(console.exec("SHOW VERSION", 5s).rows.size(), 1u) << "still usable after the errors";

    // The extended protocol is refused and the session ends.
    ASSERT_EQ(PQsendPrepare(console.raw(), "s1", "SHOW POOLS", 0, nullptr), 1);
    QueryResult prepared = console.collect(5s);
    EXPECT_FALSE(prepared.ok) << "Parse on the console";
    EXPECT_NE(prepared.error.find("extended query protocol"), std::string::npos) << prepared.describe();
    EXPECT_FALSE(console.exec("SHOW VERSION", 5s).ok) << "the session was closed after the extended protocol";

    // The pooler is unharmed.
    PqConn again = admin();
    ASSERT_TRUE(again.isOk()) << again.error();
    EXPECT_TRUE(again.exec("SHOW POOLS", 5s).ok);
}

// What scripts written for PgBouncer's console check: its SQLSTATEs and texts; Sluice's reason
// for a failed RELOAD goes to the log and to DETAIL.
TEST_F(AdminConsole, RefusalsCarryPgBouncersSqlstatesAndTexts) {
    ASSERT_TRUE(start());
    PqConn console = admin();
    PqConn app = client();
    ASSERT_TRUE(console.isOk() && app.isOk()) << log();
    auto expectRefusal = [&](const std::string& sql, const std::string& sqlstate, const std::string& message) {
        QueryResult result = console.exec(sql, 5s);
        EXPECT_FALSE(result.ok) << sql;
        EXPECT_EQ(result.sqlstate, sqlstate) << sql << ": " << result.describe();
        EXPECT_EQ(result.error, message) << sql;
        return result;
    };
    expectRefusal("KILL no_such_db_here", "08P01", "no such database: no_such_db_here");
    expectRefusal("KILL_CLIENT 999999", "08P01", "client not found");
    expectRefusal("KILL_CLIENT abc", "08P01", "invalid client pointer supplied");

    sluice_.writeFile("pooler.ini", replaceDir(ini("default_pool_size = lots\n"), sluice_.dir()));
    QueryResult reload = expectRefusal("RELOAD", "F0000", "RELOAD failed, see logs for additional details");
    EXPECT_NE(reload.detail.find("pooler.ini:"), std::string::npos) << "file:line in DETAIL: " << reload.detail;
    EXPECT_NE(reload.detail.find("default_pool_size"), std::string::npos) << reload.detail;
    EXPECT_TRUE(eventually([&] { return sluice_.log().find(reload.detail) != std::string::npos; }))
        << "the reason is logged too\n" << log();

    // During a shutdown that waits for clients, the console still answers, but cannot resume.
    EXPECT_EQ(run(console, "SHUTDOWN WAIT_FOR_CLIENTS").commandTag, "SHUTDOWN");
    expectRefusal("RESUME", "08P01", "pooler is shutting down");
    EXPECT_TRUE(console.exec("SHOW VERSION", 5s).ok) << "the console is still usable";
}

}  // namespace
}  // namespace sluice::itest
