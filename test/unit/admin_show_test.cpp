// The admin console's SHOW result sets (admin/show.h, admin/stats.h) as pure functions of
// hand-built worker reports: PgBouncer 1.25's column names, order and types, read back from the
// wire bytes ResultSet::appendTo() produces, and the values merged across workers.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "admin/result_set.h"
#include "admin/show.h"
#include "admin/stats.h"
#include "auth/auth_file.h"
#include "config/config.h"
#include "config/settings.h"
#include "conn/worker_report.h"
#include "../pgbouncer_columns.h"

namespace sluice::admin {
namespace {

using namespace std::chrono_literals;

using namespace sluice::testing_columns;

// ---- A small reader of what a client receives: RowDescription, DataRows, CommandComplete ----

struct Decoded {
    std::vector<std::string> names;
    std::vector<uint32_t> types;
    std::vector<std::vector<std::optional<std::string>>> rows;
    std::string tag;
    std::string problem;  // "" when the bytes were well formed

    // The value of `column` in the first row whose column `keyColumn` equals `key`.
    std::optional<std::string> lookup(const std::string& keyColumn, const std::string& key,
                                      const std::string& column) const {
        const int k = indexOf(keyColumn), c = indexOf(column);
        if (k < 0 || c < 0) return std::nullopt;
        for (const auto& row : rows)
            if (row[k] && *row[k] == key) return row[c];
        return std::nullopt;
    }
    int indexOf(const std::string& column) const {
        for (size_t i = 0; i < names.size(); ++i)
            if (names[i] == column) return static_cast<int>(i);
        return -1;
    }
    std::string cell(size_t row, const std::string& column) const {
        const int c = indexOf(column);
        if (row >= rows.size() || c < 0 || !rows[row][c]) return "<null or missing>";
        return *rows[row][c];
    }
};

class Reader {
public:
    explicit Reader(const std::string& bytes) : bytes_(bytes) {}
    bool atEnd() const { return pos_ >= bytes_.size(); }
    bool byte(char& out) {
        if (pos_ + 1 > bytes_.size()) return false;
        out = bytes_[pos_++];
        return true;
    }
    bool int16(int16_t& out) {
        uint16_t raw;
        if (!copy(&raw, 2)) return false;
        out = static_cast<int16_t>(ntohs(raw));
        return true;
    }
    bool int32(int32_t& out) {
        uint32_t raw;
        if (!copy(&raw, 4)) return false;
        out = static_cast<int32_t>(ntohl(raw));
        return true;
    }
    bool cstring(std::string& out) {
        const size_t end = bytes_.find('\0', pos_);
        if (end == std::string::npos) return false;
        out = bytes_.substr(pos_, end - pos_);
        pos_ = end + 1;
        return true;
    }
    bool raw(size_t n, std::string& out) {
        if (pos_ + n > bytes_.size()) return false;
        out = bytes_.substr(pos_, n);
        pos_ += n;
        return true;
    }
    size_t pos() const { return pos_; }

private:
    bool copy(void* out, size_t n) {
        if (pos_ + n > bytes_.size()) return false;
        std::memcpy(out, bytes_.data() + pos_, n);
        pos_ += n;
        return true;
    }
    const std::string& bytes_;
    size_t pos_ = 0;
};

Decoded decode(const std::string& bytes) {
    Decoded out;
    Reader reader(bytes);
    bool sawDescription = false;
    while (!reader.atEnd()) {
        char type = 0;
        int32_t length = 0;
        if (!reader.byte(type) || !reader.int32(length) || length < 4) {
            out.problem = "truncated message header";
            return out;
        }
        const size_t end = reader.pos() + static_cast<size_t>(length) - 4;
        switch (type) {
            case 'T': {
                sawDescription = true;
                int16_t count = 0;
                if (!reader.int16(count)) break;
                for (int i = 0; i < count; ++i) {
                    std::string name;
                    int32_t tableOid, typeOid, typmod;
                    int16_t attnum, typlen, format;
                    if (!reader.cstring(name) || !reader.int32(tableOid) || !reader.int16(attnum) ||
                        !reader.int32(typeOid) || !reader.int16(typlen) || !reader.int32(typmod) ||
                        !reader.int16(format)) {
                        out.problem = "truncated RowDescription";
                        return out;
                    }
                    if (format != 0) out.problem = "column " + name + " is not in text format";
                    out.names.push_back(name);
                    out.types.push_back(static_cast<uint32_t>(typeOid));
                }
                break;
            }
            case 'D': {
                if (!sawDescription) out.problem = "DataRow before RowDescription";
                int16_t count = 0;
                if (!reader.int16(count)) break;
                if (static_cast<size_t>(count) != out.names.size())
                    out.problem = "DataRow with " + std::to_string(count) + " values for " +
                                  std::to_string(out.names.size()) + " columns";
                auto& row = out.rows.emplace_back();
                for (int i = 0; i < count; ++i) {
                    int32_t size = 0;
                    if (!reader.int32(size)) {
                        out.problem = "truncated DataRow";
                        return out;
                    }
                    if (size < 0) {
                        row.emplace_back(std::nullopt);
                        continue;
                    }
                    std::string value;
                    if (!reader.raw(static_cast<size_t>(size), value)) {
                        out.problem = "truncated DataRow value";
                        return out;
                    }
                    row.emplace_back(value);
                }
                break;
            }
            case 'C': reader.cstring(out.tag); break;
            default: out.problem = std::string("unexpected message type '") + type + "'"; return out;
        }
        if (reader.pos() != end) {
            out.problem = std::string("message '") + type + "' length does not match its content";
            return out;
        }
    }
    return out;
}

Decoded wire(const ResultSet& set) {
    std::string bytes;
    set.appendTo(bytes);
    Decoded decoded = decode(bytes);
    EXPECT_EQ(decoded.problem, "");
    EXPECT_EQ(decoded.tag, "SHOW");
    // What the object says of itself must be what goes on the wire.
    EXPECT_EQ(decoded.names.size(), set.columnCount());
    for (size_t i = 0; i < set.columnCount() && i < decoded.names.size(); ++i)
        EXPECT_EQ(decoded.names[i], set.columnName(i));
    EXPECT_EQ(decoded.rows.size(), set.rowCount());
    return decoded;
}

void expectColumns(const ResultSet& set, const Columns& expected) {
    Decoded decoded = wire(set);
    std::vector<std::string> names;
    for (const auto& [name, type] : expected) names.push_back(name);
    EXPECT_EQ(decoded.names, names);
    for (size_t i = 0; i < expected.size() && i < decoded.types.size(); ++i)
        EXPECT_EQ(decoded.types[i], expected[i].second) << "type of column " << expected[i].first;
}

// ---- PgBouncer 1.25's columns (doc/usage.md, src/admin.c, src/stats.c), literally ----









// PgBouncer 1.25 names SHOW TOTALS' rows after its counters (client_bytes, ps_…), not after
// SHOW STATS' columns.
const std::vector<std::string> kTotalsRows = {
    "total_server_assignment_count", "total_xact_count",           "total_query_count",
    "total_client_bytes",            "total_server_bytes",         "total_xact_time",
    "total_query_time",              "total_wait_time",            "total_ps_client_parse_count",
    "total_ps_server_parse_count",   "total_ps_bind_count",        "avg_server_assignment_count",
    "avg_xact_count",                "avg_query_count",            "avg_client_bytes",
    "avg_server_bytes",              "avg_xact_time",              "avg_query_time",
    "avg_wait_time",                 "avg_ps_client_parse_count",  "avg_ps_server_parse_count",
    "avg_ps_bind_count"};

const std::vector<std::string> kListsRows = {"databases",    "users",         "peers",        "pools",
                                             "peer_pools",   "free_clients",  "used_clients", "login_clients",
                                             "free_servers", "used_servers",  "dns_names",    "dns_zones",
                                             "dns_queries",  "dns_pending"};


// ---- Hand-built reports ----

conn::ConnectionRow clientRow(uint64_t id, const std::string& user, const std::string& database,
                              const std::string& state) {
    conn::ConnectionRow row;
    row.isServer = false;
    row.id = id;
    row.user = user;
    row.database = database;
    row.state = state;
    row.listState = state == "waiting" ? "cl_waiting" : "cl_active";
    row.remoteAddress = "127.0.0.1";
    row.remotePort = 40000 + static_cast<int>(id);
    row.localAddress = "127.0.0.1";
    row.localPort = 6432;
    return row;
}

conn::ConnectionRow serverRow(uint64_t id, const std::string& user, const std::string& database,
                              const std::string& state, int pid) {
    conn::ConnectionRow row = clientRow(id, user, database, state);
    row.isServer = true;
    row.listState = "sv_" + state;
    row.remotePort = 5432;
    row.localPort = 50000 + static_cast<int>(id);
    row.remotePid = pid;
    return row;
}

conn::PoolRow poolRow(const std::string& database, const std::string& user, const std::string& mode) {
    conn::PoolRow row;
    row.database = database;
    row.user = user;
    row.poolMode = mode;
    return row;
}

pool::PoolStats stats(uint64_t assignments, uint64_t xacts, uint64_t queries, uint64_t received, uint64_t sent,
                      uint64_t xactMicros, uint64_t queryMicros, uint64_t waitMicros, uint64_t logins) {
    pool::PoolStats s;
    s.serverAssignments = assignments;
    s.transactions = xacts;
    s.queries = queries;
    s.bytesReceived = received;
    s.bytesSent = sent;
    s.transactionMicros = xactMicros;
    s.queryMicros = queryMicros;
    s.waitMicros = waitMicros;
    s.clientLogins = logins;
    return s;
}

config::Config configOf(const std::string& text) {
    auto config = config::parseConfigString(text, "test.ini");
    EXPECT_TRUE(config.ok()) << (config.ok() ? "" : config.error().message);
    return config.ok() ? config.value() : config::Config{};
}

const char* const kIni =
    "[databases]\n"
    "app = host=127.0.0.1 port=5433 dbname=appdb pool_size=7 pool_mode=transaction\n"
    "forced = host=10.0.0.1 port=5432 user=svc\n"
    "multi = host=h1,h2 port=5432 load_balance_hosts=disable\n"
    "[users]\n"
    "alice = pool_mode=session max_user_connections=3\n"
    "[pgbouncer]\n"
    "listen_port = 6543\n"
    "default_pool_size = 20\n"
    "max_db_connections = 50\n";

// ---- Column names, order and types of every SHOW ----

TEST(AdminShowColumns, EveryShowHasPgBouncersColumnsInOrderWithItsTypes) {
    const Reports none;
    const config::Config config = configOf(kIni);
    const auth::AuthFile authFile;
    StatsHistory history;
    {
        SCOPED_TRACE("SHOW POOLS");
        expectColumns(showPools(none), kPoolsColumns);
    }
    {
        SCOPED_TRACE("SHOW CLIENTS");
        expectColumns(showClients(none), kSocketColumns);
    }
    {
        SCOPED_TRACE("SHOW SERVERS");
        expectColumns(showServers(none), kSocketColumns);
    }
    {
        SCOPED_TRACE("SHOW SOCKETS");
        expectColumns(showSockets(none, false), socketsColumns());
        expectColumns(showSockets(none, true), socketsColumns());
    }
    {
        SCOPED_TRACE("SHOW DATABASES");
        expectColumns(showDatabases(none, config, PauseState{}), kDatabasesColumns);
    }
    {
        SCOPED_TRACE("SHOW USERS");
        expectColumns(showUsers(none, config, authFile), kUsersColumns);
    }
    {
        SCOPED_TRACE("SHOW STATS");
        expectColumns(history.showStats(none), kStatsColumns);
    }
    {
        SCOPED_TRACE("SHOW STATS_TOTALS");
        expectColumns(history.showStatsTotals(none), kStatsTotalsColumns);
    }
    {
        SCOPED_TRACE("SHOW STATS_AVERAGES");
        expectColumns(history.showStatsAverages(none), kStatsAveragesColumns);
    }
    {
        SCOPED_TRACE("SHOW TOTALS");
        expectColumns(history.showTotals(none), kTotalsColumns);
    }
    {
        SCOPED_TRACE("SHOW LISTS");
        expectColumns(showLists(none, config, authFile), kListsColumns);
    }
    {
        SCOPED_TRACE("SHOW CONFIG");
        expectColumns(showConfig(config.settings), kConfigColumns);
    }
    {
        SCOPED_TRACE("SHOW MEM");
        expectColumns(showMem(none), kMemColumns);
    }
    {
        SCOPED_TRACE("SHOW STATE");
        expectColumns(showState(PauseState{}), kStateColumns);
    }
    {
        SCOPED_TRACE("SHOW VERSION");
        expectColumns(showVersion(), kVersionColumns);
    }
    {
        SCOPED_TRACE("SHOW FDS");
        expectColumns(showFds(Reports{}), kFdsColumns);
    }
    {
        SCOPED_TRACE("SHOW DNS_HOSTS");
        expectColumns(showDnsHosts(), kDnsHostsColumns);
    }
    {
        SCOPED_TRACE("SHOW DNS_ZONES");
        expectColumns(showDnsZones(), kDnsZonesColumns);
    }
    {
        SCOPED_TRACE("SHOW PEERS");
        expectColumns(showPeers(config::Config{}), kPeersColumns);
    }
    {
        SCOPED_TRACE("SHOW PEER_POOLS");
        expectColumns(showPeerPools({}, config::Config{}), kPeerPoolsColumns);
    }
}

TEST(AdminShowColumns, TotalsAndListsHavePgBouncersRowsInOrder) {
    StatsHistory history;
    Decoded totals = wire(history.showTotals({}));
    std::vector<std::string> names;
    for (const auto& row : totals.rows) names.push_back(row[0].value_or("<null>"));
    EXPECT_EQ(names, kTotalsRows);
    for (size_t i = 0; i < totals.rows.size(); ++i) EXPECT_EQ(totals.cell(i, "value"), "0") << names[i];

    Decoded lists = wire(showLists({}, configOf(kIni), auth::AuthFile{}));
    names.clear();
    for (const auto& row : lists.rows) names.push_back(row[0].value_or("<null>"));
    EXPECT_EQ(names, kListsRows);
}

TEST(AdminShowColumns, ResultSetRefusesARowOfTheWrongWidth) {
    ResultSet set{{"a", ColumnType::Text}, {"b", ColumnType::Int4}};
    EXPECT_THROW(set.addRow({"only one"}), std::logic_error);
    EXPECT_THROW(set.addRow({"x", 1, 2}), std::logic_error);
    set.addRow({"x", 1});
    set.addRow({nullptr, Cell::null()});
    Decoded decoded = wire(set);
    ASSERT_EQ(decoded.rows.size(), 2u);
    EXPECT_EQ(decoded.rows[0][0], "x");
    EXPECT_EQ(decoded.rows[0][1], "1");
    EXPECT_FALSE(decoded.rows[1][0].has_value());
    EXPECT_FALSE(decoded.rows[1][1].has_value());
}

TEST(AdminShowColumns, TimesArePrintedAsUtcTimestamptzAndZeroIsNull) {
    EXPECT_FALSE(Cell::time(0).value().has_value());
    EXPECT_EQ(Cell::time(1700000000LL * 1000000 + 999999).value(), "2023-11-14 22:13:20+00");
    EXPECT_EQ(Cell::time(86400LL * 1000000).value(), "1970-01-02 00:00:00+00");
}

// ---- Values: one pool's shards on two workers make one row ----

TEST(AdminShowPools, ShardsOfOnePoolOnTwoWorkersAreSummed) {
    Reports reports(2);
    conn::PoolRow a = poolRow("app", "app", "transaction");
    a.clientsActive = 1;
    a.serversActive = 1;
    a.serversIdle = 2;
    a.serversLogin = 1;
    a.maxWaitMicros = 1500000;
    conn::PoolRow b = poolRow("app", "app", "transaction");
    b.clientsActive = 2;
    b.clientsWaiting = 3;
    b.serversIdle = 1;
    b.serversUsed = 4;
    b.serversTested = 1;
    b.maxWaitMicros = 3250000;
    reports[0].pools.push_back(a);
    reports[1].pools.push_back(b);
    reports[1].pools.push_back(poolRow("postgres", "sluice_test", "session"));
    reports[0].adminClients = 1;
    reports[1].adminClients = 1;

    Decoded pools = wire(showPools(reports));
    ASSERT_EQ(pools.rows.size(), 3u) << "the console's row, app/app, postgres/sluice_test";

    // PgBouncer lists its console as the pool pgbouncer/pgbouncer in statement mode.
    EXPECT_EQ(pools.cell(0, "database"), "pgbouncer");
    EXPECT_EQ(pools.cell(0, "user"), "pgbouncer");
    EXPECT_EQ(pools.cell(0, "cl_active"), "2");
    EXPECT_EQ(pools.cell(0, "pool_mode"), "statement");

    EXPECT_EQ(pools.lookup("database", "app", "user"), "app");
    EXPECT_EQ(pools.lookup("database", "app", "cl_active"), "3");
    EXPECT_EQ(pools.lookup("database", "app", "cl_waiting"), "3");
    EXPECT_EQ(pools.lookup("database", "app", "sv_active"), "1");
    EXPECT_EQ(pools.lookup("database", "app", "sv_idle"), "3");
    EXPECT_EQ(pools.lookup("database", "app", "sv_used"), "4");
    EXPECT_EQ(pools.lookup("database", "app", "sv_tested"), "1");
    EXPECT_EQ(pools.lookup("database", "app", "sv_login"), "1");
    EXPECT_EQ(pools.lookup("database", "app", "cl_active_cancel_req"), "0");
    EXPECT_EQ(pools.lookup("database", "app", "maxwait"), "3") << "the longest wait of any worker";
    EXPECT_EQ(pools.lookup("database", "app", "maxwait_us"), "250000");
    EXPECT_EQ(pools.lookup("database", "app", "pool_mode"), "transaction");
    EXPECT_EQ(pools.lookup("database", "app", "load_balance_hosts"), std::nullopt) << "NULL for a single host";

    EXPECT_EQ(pools.lookup("database", "postgres", "user"), "sluice_test");
    EXPECT_EQ(pools.lookup("database", "postgres", "pool_mode"), "session");
    EXPECT_EQ(pools.lookup("database", "postgres", "cl_active"), "0");
}

TEST(AdminShowPools, SameDatabaseDifferentUsersAreDifferentRows) {
    Reports reports(2);
    conn::PoolRow alice = poolRow("app", "alice", "session");
    alice.clientsActive = 1;
    conn::PoolRow bob = poolRow("app", "bob", "session");
    bob.clientsActive = 5;
    reports[0].pools.push_back(alice);
    reports[1].pools.push_back(bob);
    Decoded pools = wire(showPools(reports));
    ASSERT_EQ(pools.rows.size(), 3u);
    EXPECT_EQ(pools.lookup("user", "alice", "cl_active"), "1");
    EXPECT_EQ(pools.lookup("user", "bob", "cl_active"), "5");
}

// ---- SHOW CLIENTS / SERVERS / SOCKETS ----

TEST(AdminShowConnections, ClientsOfEveryWorkerWithTheirFields) {
    Reports reports(2);
    conn::ConnectionRow waiting = clientRow(7, "app", "app", "waiting");
    waiting.connectMicros = 1700000000LL * 1000000;
    waiting.requestMicros = 1700000001LL * 1000000;
    waiting.waitMicros = 2500000;
    waiting.ptr = 0x1234;
    waiting.applicationName = "psql";
    reports[0].clients.push_back(waiting);
    conn::ConnectionRow active = clientRow(9, "bob", "app", "active");
    active.link = 0xabc;
    active.ptr = 0x5678;
    reports[1].clients.push_back(active);
    reports[1].servers.push_back(serverRow(3, "bob", "app", "active", 4242));  // not a client

    Decoded clients = wire(showClients(reports));
    ASSERT_EQ(clients.rows.size(), 2u);
    EXPECT_EQ(clients.lookup("id", "7", "type"), "C");
    EXPECT_EQ(clients.lookup("id", "7", "user"), "app");
    EXPECT_EQ(clients.lookup("id", "7", "database"), "app");
    EXPECT_EQ(clients.lookup("id", "7", "replication"), "none");
    EXPECT_EQ(clients.lookup("id", "7", "state"), "waiting");
    EXPECT_EQ(clients.lookup("id", "7", "addr"), "127.0.0.1");
    EXPECT_EQ(clients.lookup("id", "7", "port"), "40007");
    EXPECT_EQ(clients.lookup("id", "7", "local_port"), "6432");
    EXPECT_EQ(clients.lookup("id", "7", "connect_time"), "2023-11-14 22:13:20+00");
    EXPECT_EQ(clients.lookup("id", "7", "request_time"), "2023-11-14 22:13:21+00");
    EXPECT_EQ(clients.lookup("id", "7", "wait"), "2");
    EXPECT_EQ(clients.lookup("id", "7", "wait_us"), "500000");
    EXPECT_EQ(clients.lookup("id", "7", "close_needed"), "0");
    EXPECT_EQ(clients.lookup("id", "7", "ptr"), "0x1234");
    EXPECT_EQ(clients.lookup("id", "7", "link"), "") << "not linked";
    EXPECT_EQ(clients.lookup("id", "7", "tls"), "");
    EXPECT_EQ(clients.lookup("id", "7", "application_name"), "psql");
    EXPECT_EQ(clients.lookup("id", "7", "prepared_statements"), "0");
    EXPECT_EQ(clients.lookup("id", "9", "state"), "active");
    EXPECT_EQ(clients.lookup("id", "9", "link"), "0xabc");
    EXPECT_EQ(clients.lookup("id", "9", "connect_time"), std::nullopt) << "an unknown time is NULL";
}

TEST(AdminShowConnections, ServersOfEveryWorkerWithTheirBackendPid) {
    Reports reports(2);
    conn::ConnectionRow first = serverRow(3, "app", "app", "active", 4242);
    first.closeNeeded = true;
    reports[0].servers.push_back(first);
    reports[1].servers.push_back(serverRow(4, "app", "app", "idle", 4343));
    reports[1].clients.push_back(clientRow(1, "app", "app", "active"));  // not a server

    Decoded servers = wire(showServers(reports));
    ASSERT_EQ(servers.rows.size(), 2u);
    EXPECT_EQ(servers.lookup("id", "3", "type"), "S");
    EXPECT_EQ(servers.lookup("id", "3", "state"), "active");
    EXPECT_EQ(servers.lookup("id", "3", "remote_pid"), "4242");
    EXPECT_EQ(servers.lookup("id", "3", "close_needed"), "1");
    EXPECT_EQ(servers.lookup("id", "3", "port"), "5432");
    EXPECT_EQ(servers.lookup("id", "4", "state"), "idle");
    EXPECT_EQ(servers.lookup("id", "4", "remote_pid"), "4343");
    EXPECT_EQ(servers.lookup("id", "4", "close_needed"), "0");
}

TEST(AdminShowConnections, SocketsListEverythingAndActiveSocketsOnlyBufferedOnes) {
    Reports reports(2);
    conn::ConnectionRow busy = clientRow(1, "app", "app", "active");
    busy.queuedOutput = 100;
    reports[0].clients.push_back(busy);
    reports[0].clients.push_back(clientRow(2, "app", "app", "idle"));
    conn::ConnectionRow login = clientRow(3, "app", "app", "login");
    login.listState = "cl_login";
    login.bufferedInput = 12;
    reports[1].loginClients.push_back(login);
    reports[1].servers.push_back(serverRow(4, "app", "app", "idle", 99));

    Decoded all = wire(showSockets(reports, false));
    EXPECT_EQ(all.rows.size(), 4u);
    EXPECT_EQ(all.lookup("id", "1", "state"), "cl_active") << "SHOW SOCKETS names the list";
    EXPECT_EQ(all.lookup("id", "3", "state"), "cl_login");
    EXPECT_EQ(all.lookup("id", "4", "state"), "sv_idle");
    EXPECT_EQ(all.lookup("id", "1", "send_remain"), "100");
    EXPECT_EQ(all.lookup("id", "3", "recv_pos"), "12");

    Decoded active = wire(showSockets(reports, true));
    ASSERT_EQ(active.rows.size(), 2u);
    EXPECT_TRUE(active.lookup("id", "1", "id").has_value());
    EXPECT_TRUE(active.lookup("id", "3", "id").has_value());
}

// ---- SHOW LISTS / MEM ----

TEST(AdminShowLists, CountsAcrossWorkers) {
    const config::Config config = configOf(kIni);
    auth::AuthFile authFile{{"app", "x"}, {"bob", "y"}};
    Reports reports(2);
    reports[0].pools.push_back(poolRow("app", "app", "session"));
    reports[1].pools.push_back(poolRow("app", "app", "session"));  // the same pool on another worker
    reports[1].pools.push_back(poolRow("app", "carol", "session"));
    reports[0].clients.push_back(clientRow(1, "app", "app", "active"));
    reports[1].clients.push_back(clientRow(2, "carol", "app", "active"));
    conn::ConnectionRow login = clientRow(3, "app", "app", "login");
    reports[1].loginClients.push_back(login);
    reports[0].servers.push_back(serverRow(4, "app", "app", "active", 1));

    Decoded lists = wire(showLists(reports, config, authFile));
    EXPECT_EQ(lists.lookup("list", "databases", "items"), "4") << "three entries and the console";
    EXPECT_EQ(lists.lookup("list", "users", "items"), "4") << "app, bob (auth_file), alice ([users]), carol (a pool)";
    EXPECT_EQ(lists.lookup("list", "pools", "items"), "3") << "two pools and the console's";
    EXPECT_EQ(lists.lookup("list", "used_clients", "items"), "3");
    EXPECT_EQ(lists.lookup("list", "login_clients", "items"), "1");
    EXPECT_EQ(lists.lookup("list", "used_servers", "items"), "1");
    EXPECT_EQ(lists.lookup("list", "peers", "items"), "0");
}

TEST(AdminShowMem, UsedIsTheConnectionObjectsOfEveryWorker) {
    Reports reports(2);
    reports[0].clientObjects = 3;
    reports[1].clientObjects = 4;
    reports[0].serverObjects = 2;
    Decoded mem = wire(showMem(reports));
    EXPECT_EQ(mem.lookup("name", "client_conn", "used"), "7");
    EXPECT_EQ(mem.lookup("name", "server_conn", "used"), "2");
    const long size = std::stol(mem.lookup("name", "client_conn", "size").value_or("0"));
    EXPECT_GT(size, 0);
    EXPECT_EQ(mem.lookup("name", "client_conn", "memtotal"), std::to_string(size * 7));
}

// ---- SHOW DATABASES / USERS / CONFIG / STATE / VERSION ----

TEST(AdminShowDatabases, ConfiguredEntriesWithCountsPauseAndDisable) {
    const config::Config config = configOf(kIni);
    Reports reports(2);
    reports[0].servers.push_back(serverRow(1, "app", "app", "active", 10));
    reports[1].servers.push_back(serverRow(2, "app", "app", "idle", 11));
    reports[0].clients.push_back(clientRow(3, "app", "app", "active"));
    reports[1].clients.push_back(clientRow(4, "app", "app", "idle"));
    reports[1].clients.push_back(clientRow(5, "app", "app", "idle"));
    reports[1].clients.push_back(clientRow(6, "sluice_test", "pgbouncer", "active"));
    PauseState pause;
    pause.pausedDatabases.insert("app");
    pause.disabledDatabases.insert("forced");

    Decoded databases = wire(showDatabases(reports, config, pause));
    EXPECT_EQ(databases.lookup("name", "app", "host"), "127.0.0.1");
    EXPECT_EQ(databases.lookup("name", "app", "port"), "5433");
    EXPECT_EQ(databases.lookup("name", "app", "database"), "appdb");
    EXPECT_EQ(databases.lookup("name", "app", "force_user"), std::nullopt);
    EXPECT_EQ(databases.lookup("name", "app", "pool_size"), "7");
    EXPECT_EQ(databases.lookup("name", "app", "pool_mode"), "transaction");
    EXPECT_EQ(databases.lookup("name", "app", "max_connections"), "50");
    EXPECT_EQ(databases.lookup("name", "app", "current_connections"), "2");
    EXPECT_EQ(databases.lookup("name", "app", "current_client_connections"), "3");
    EXPECT_EQ(databases.lookup("name", "app", "paused"), "1");
    EXPECT_EQ(databases.lookup("name", "app", "disabled"), "0");
    EXPECT_EQ(databases.lookup("name", "app", "load_balance_hosts"), std::nullopt);

    EXPECT_EQ(databases.lookup("name", "forced", "force_user"), "svc");
    EXPECT_EQ(databases.lookup("name", "forced", "database"), "forced") << "dbname defaults to the name";
    EXPECT_EQ(databases.lookup("name", "forced", "pool_size"), "20") << "default_pool_size";
    EXPECT_EQ(databases.lookup("name", "forced", "pool_mode"), std::nullopt) << "no override: NULL";
    EXPECT_EQ(databases.lookup("name", "forced", "paused"), "0");
    EXPECT_EQ(databases.lookup("name", "forced", "disabled"), "1");
    EXPECT_EQ(databases.lookup("name", "forced", "current_connections"), "0");

    EXPECT_EQ(databases.lookup("name", "multi", "load_balance_hosts"), "disable");

    EXPECT_EQ(databases.lookup("name", "pgbouncer", "port"), "6543") << "the console's row: listen_port";
    EXPECT_EQ(databases.lookup("name", "pgbouncer", "pool_mode"), "statement");
    EXPECT_EQ(databases.lookup("name", "pgbouncer", "current_client_connections"), "1");

    PauseState all;
    all.paused = true;
    Decoded paused = wire(showDatabases({}, config, all));
    EXPECT_EQ(paused.lookup("name", "app", "paused"), "1");
    EXPECT_EQ(paused.lookup("name", "multi", "paused"), "1");
}

TEST(AdminShowDatabases, DatabasesOfTheFallbackAppearOnceTheyHaveAPool) {
    const config::Config config = configOf("[databases]\n* = host=127.0.0.1 port=5432\n[pgbouncer]\n");
    Reports reports(2);
    reports[0].pools.push_back(poolRow("dyn", "app", "session"));
    reports[1].pools.push_back(poolRow("dyn", "app", "session"));
    Decoded databases = wire(showDatabases(reports, config, PauseState{}));
    ASSERT_EQ(databases.rows.size(), 2u) << "dyn (once) and the console";
    EXPECT_EQ(databases.lookup("name", "dyn", "database"), "dyn");
    EXPECT_EQ(databases.lookup("name", "dyn", "host"), "127.0.0.1");
}

TEST(AdminShowUsers, UsersWithOverridesAndCounts) {
    const config::Config config = configOf(kIni);
    auth::AuthFile authFile{{"app", "x"}};
    Reports reports(2);
    reports[0].servers.push_back(serverRow(1, "alice", "app", "active", 10));
    reports[0].clients.push_back(clientRow(2, "alice", "app", "active"));
    reports[1].clients.push_back(clientRow(3, "alice", "app", "idle"));

    Decoded users = wire(showUsers(reports, config, authFile));
    EXPECT_EQ(users.lookup("name", "alice", "pool_mode"), "session");
    EXPECT_EQ(users.lookup("name", "alice", "max_user_connections"), "3");
    EXPECT_EQ(users.lookup("name", "alice", "current_connections"), "1");
    EXPECT_EQ(users.lookup("name", "alice", "current_client_connections"), "2");
    EXPECT_EQ(users.lookup("name", "alice", "pool_size"), std::nullopt) << "no override: NULL";
    EXPECT_EQ(users.lookup("name", "app", "pool_mode"), std::nullopt);
    EXPECT_EQ(users.lookup("name", "app", "current_connections"), "0");
}

TEST(AdminShowConfig, EverySettingWithValueDefaultAndChangeable) {
    const config::Config config = configOf(kIni);
    Decoded shown = wire(showConfig(config.settings));
    EXPECT_EQ(shown.rows.size(), config::settingTable().size());
    EXPECT_EQ(shown.lookup("key", "default_pool_size", "value"), "20");
    EXPECT_EQ(shown.lookup("key", "default_pool_size", "default"), "20");
    EXPECT_EQ(shown.lookup("key", "default_pool_size", "changeable"), "yes");
    EXPECT_EQ(shown.lookup("key", "listen_port", "value"), "6543");
    EXPECT_EQ(shown.lookup("key", "listen_port", "default"), "6432");
    EXPECT_EQ(shown.lookup("key", "listen_port", "changeable"), "no");
    EXPECT_EQ(shown.lookup("key", "max_db_connections", "value"), "50");
    EXPECT_EQ(shown.lookup("key", "pool_mode", "value"), "session");
}

TEST(AdminShowState, ActivePausedSuspended) {
    Decoded state = wire(showState(PauseState{}));
    std::vector<std::string> keys;
    for (const auto& row : state.rows) keys.push_back(row[0].value_or(""));
    EXPECT_EQ(keys, (std::vector<std::string>{"active", "paused", "suspended"}));
    EXPECT_EQ(state.lookup("key", "active", "value"), "yes");
    EXPECT_EQ(state.lookup("key", "paused", "value"), "no");

    PauseState paused;
    paused.paused = true;
    state = wire(showState(paused));
    EXPECT_EQ(state.lookup("key", "active", "value"), "no");
    EXPECT_EQ(state.lookup("key", "paused", "value"), "yes");
    EXPECT_EQ(state.lookup("key", "suspended", "value"), "no");

    PauseState suspended;
    suspended.suspended = true;
    state = wire(showState(suspended));
    EXPECT_EQ(state.lookup("key", "active", "value"), "no");
    EXPECT_EQ(state.lookup("key", "suspended", "value"), "yes");
}

TEST(AdminShowVersion, OneRowNamingSluiceAndItsVersion) {
    Decoded version = wire(showVersion());
    ASSERT_EQ(version.rows.size(), 1u);
    EXPECT_NE(version.cell(0, "version").find(SLUICE_VERSION), std::string::npos) << version.cell(0, "version");
}

// Every configured peer has a row in both; pool_size falls back to default_pool_size, and the
// forwarded cancels of all workers are summed.
TEST(AdminShowOthers, PeersAndPeerPoolsListTheConfiguredPeers) {
    const config::Config config = configOf(
        "[pgbouncer]\ndefault_pool_size = 9\npeer_id = 1\n"
        "[peers]\n1 = host=/tmp/one\n2 = host=10.0.0.2 port=6433 pool_size=4\n");
    Decoded peers = wire(showPeers(config));
    ASSERT_EQ(peers.rows.size(), 2u);
    EXPECT_EQ(peers.cell(0, "peer_id"), "1");
    EXPECT_EQ(peers.cell(0, "host"), "/tmp/one");
    EXPECT_EQ(peers.cell(0, "port"), "6432");
    EXPECT_EQ(peers.cell(0, "pool_size"), "9");
    EXPECT_EQ(peers.cell(1, "host"), "10.0.0.2");
    EXPECT_EQ(peers.cell(1, "port"), "6433");
    EXPECT_EQ(peers.cell(1, "pool_size"), "4");

    Reports reports(2);
    reports[0].peerCancels[2] = {.waiting = 1, .connecting = 1, .sent = 2};
    reports[1].peerCancels[2] = {.waiting = 0, .connecting = 0, .sent = 1};
    Decoded pools = wire(showPeerPools(reports, config));
    ASSERT_EQ(pools.rows.size(), 2u);
    EXPECT_EQ(pools.cell(0, "cl_active_cancel_req"), "0");
    EXPECT_EQ(pools.cell(1, "peer_id"), "2");
    EXPECT_EQ(pools.cell(1, "cl_active_cancel_req"), "4");
    EXPECT_EQ(pools.cell(1, "cl_waiting_cancel_req"), "1");
    EXPECT_EQ(pools.cell(1, "sv_active_cancel"), "3");
    EXPECT_EQ(pools.cell(1, "sv_login"), "1");
}

// SHOW FDS: a row per socket, the linked one named by its descriptor, secrets never shown.
TEST(AdminShowOthers, FdsListEverySocketWithItsLinkAndNoSecret) {
    conn::ConnectionRow client = clientRow(1, "app", "shop", "active");
    client.fd = 12;
    client.cancelKey = (int64_t{0x1234} << 32) | 0x5678;
    client.clientEncoding = "UTF8";
    client.timeZone = "Asia/Tokyo";
    conn::ConnectionRow server = serverRow(2, "app", "shop", "active", 4242);
    server.fd = 15;
    client.ptr = 100;
    server.ptr = 200;
    client.link = 200;
    server.link = 100;
    conn::ConnectionRow idle = clientRow(3, "app", "shop", "idle");
    idle.fd = 13;
    Reports reports(1);
    reports[0].clients = {client, idle};
    reports[0].servers = {server};
    Decoded fds = wire(showFds(reports));
    ASSERT_EQ(fds.rows.size(), 3u) << fds.problem;
    EXPECT_EQ(fds.lookup("fd", "12", "task"), "client");
    EXPECT_EQ(fds.lookup("fd", "12", "link"), "15");
    EXPECT_EQ(fds.lookup("fd", "12", "cancel"), std::to_string((int64_t{0x1234} << 32) | 0x5678));
    EXPECT_EQ(fds.lookup("fd", "12", "client_encoding"), "UTF8");
    EXPECT_EQ(fds.lookup("fd", "12", "timezone"), "Asia/Tokyo");
    EXPECT_EQ(fds.lookup("fd", "12", "datestyle"), std::nullopt);  // not chosen: NULL
    EXPECT_EQ(fds.lookup("fd", "15", "task"), "server");
    EXPECT_EQ(fds.lookup("fd", "15", "link"), "12");
    EXPECT_EQ(fds.lookup("fd", "13", "link"), std::nullopt);
    for (const char* secret : {"password", "scram_client_key", "scram_server_key"})
        for (const char* fd : {"12", "13", "15"}) EXPECT_EQ(fds.lookup("fd", fd, secret), std::nullopt) << secret;
}

TEST(AdminShowOthers, DnsIsEmpty) {
    EXPECT_EQ(showDnsHosts().rowCount(), 0u);
    EXPECT_EQ(showDnsZones().rowCount(), 0u);
    EXPECT_NE(helpText().find("SHOW HELP|CONFIG|DATABASES"), std::string::npos);
    EXPECT_NE(helpText().find("KILL_CLIENT"), std::string::npos);
}

// ---- Statistics ----

TEST(AdminStats, TotalsAreSummedOverWorkersAndUsersPerDatabase) {
    Reports reports(2);
    conn::PoolRow a = poolRow("app", "app", "transaction");
    a.stats = stats(10, 20, 30, 400, 500, 6000, 7000, 800, 2);
    conn::PoolRow b = poolRow("app", "bob", "transaction");  // another user, same database
    b.stats = stats(1, 2, 3, 40, 50, 600, 700, 80, 1);
    conn::PoolRow c = poolRow("app", "app", "transaction");  // the first pool on the other worker
    c.stats = stats(100, 200, 300, 4000, 5000, 60000, 70000, 8000, 3);
    conn::PoolRow other = poolRow("postgres", "sluice_test", "session");
    other.stats = stats(5, 5, 5, 5, 5, 5, 5, 5, 5);
    reports[0].pools = {a, b};
    reports[1].pools = {c, other};

    auto totals = totalsByDatabase(reports);
    ASSERT_EQ(totals.size(), 2u);
    EXPECT_EQ(totals["app"].serverAssignments, 111u);
    EXPECT_EQ(totals["app"].transactions, 222u);
    EXPECT_EQ(totals["app"].queries, 333u);
    EXPECT_EQ(totals["app"].bytesReceived, 4440u);
    EXPECT_EQ(totals["app"].bytesSent, 5550u);
    EXPECT_EQ(totals["app"].transactionMicros, 66600u);
    EXPECT_EQ(totals["app"].queryMicros, 77700u);
    EXPECT_EQ(totals["app"].waitMicros, 8880u);
    EXPECT_EQ(totals["app"].clientLogins, 6u);

    StatsHistory history;
    Decoded shown = wire(history.showStats(reports));
    ASSERT_EQ(shown.rows.size(), 3u) << "one row per database, and the console's";
    EXPECT_EQ(shown.lookup("database", "pgbouncer", "total_query_count"), "0");
    EXPECT_EQ(shown.lookup("database", "app", "total_server_assignment_count"), "111");
    EXPECT_EQ(shown.lookup("database", "app", "total_xact_count"), "222");
    EXPECT_EQ(shown.lookup("database", "app", "total_query_count"), "333");
    EXPECT_EQ(shown.lookup("database", "app", "total_received"), "4440");
    EXPECT_EQ(shown.lookup("database", "app", "total_sent"), "5550");
    EXPECT_EQ(shown.lookup("database", "app", "total_xact_time"), "66600");
    EXPECT_EQ(shown.lookup("database", "app", "total_query_time"), "77700");
    EXPECT_EQ(shown.lookup("database", "app", "total_wait_time"), "8880");
    EXPECT_EQ(shown.indexOf("total_client_connect_count"), -1) << "PgBouncer 1.25 has no logins column";
    EXPECT_EQ(wire(history.metricsStats(reports)).lookup("database", "app", "total_client_connect_count"), "6")
        << "logins are for /metrics";
    EXPECT_EQ(shown.lookup("database", "app", "avg_query_count"), "0") << "no stats_period yet";
    EXPECT_EQ(shown.lookup("database", "postgres", "total_query_count"), "5");

    Decoded totalsShown = wire(history.showStatsTotals(reports));
    EXPECT_EQ(totalsShown.lookup("database", "app", "server_assignment_count"), "111");
    EXPECT_EQ(totalsShown.lookup("database", "app", "xact_count"), "222");
    EXPECT_EQ(totalsShown.lookup("database", "app", "query_count"), "333");
    EXPECT_EQ(totalsShown.lookup("database", "app", "bytes_received"), "4440");
    EXPECT_EQ(totalsShown.lookup("database", "app", "bytes_sent"), "5550");
    EXPECT_EQ(totalsShown.lookup("database", "app", "wait_time"), "8880");

    Decoded all = wire(history.showTotals(reports));
    EXPECT_EQ(all.lookup("name", "total_query_count", "value"), "338") << "every database together";
    EXPECT_EQ(all.lookup("name", "total_xact_count", "value"), "227");
    EXPECT_EQ(all.lookup("name", "total_client_bytes", "value"), "4445");
}

// As PgBouncer: each admin console query is a transaction and a query of database "pgbouncer".
TEST(AdminStats, ConsoleQueriesCountAsTheConsoleDatabases) {
    StatsHistory history;
    Reports reports(1);
    conn::PoolRow app = poolRow("app", "app", "transaction");
    app.stats = stats(1, 1, 1, 14, 66, 10, 10, 5, 1);
    reports[0].pools = {app};
    history.countConsoleQuery();
    history.countConsoleQuery();
    Decoded shown = wire(history.showStats(reports));
    EXPECT_EQ(shown.lookup("database", "pgbouncer", "total_xact_count"), "2");
    EXPECT_EQ(shown.lookup("database", "pgbouncer", "total_query_count"), "2");
    EXPECT_EQ(shown.lookup("database", "pgbouncer", "total_server_assignment_count"), "0");
    EXPECT_EQ(shown.lookup("database", "pgbouncer", "total_received"), "0");
    EXPECT_EQ(wire(history.showStatsTotals(reports)).lookup("database", "pgbouncer", "xact_count"), "2");
    Decoded all = wire(history.showTotals(reports));
    EXPECT_EQ(all.lookup("name", "total_xact_count", "value"), "3");
    EXPECT_EQ(all.lookup("name", "total_query_count", "value"), "3");
}

// Reports with one pool of `database` on each of two workers, `scale` times a base load.
Reports loadOf(uint64_t scale, const std::string& database = "app") {
    Reports reports(2);
    conn::PoolRow a = poolRow(database, "app", "transaction");
    a.stats = stats(scale * 10, scale * 20, scale * 40, scale * 1000, scale * 3000, scale * 2000, scale * 4000,
                    scale * 500, scale * 2);
    conn::PoolRow b = a;
    b.user = "bob";
    reports[0].pools.push_back(a);
    reports[1].pools.push_back(b);
    return reports;
}

TEST(AdminStats, AveragesOverAPeriodFromTwoSamples) {
    const TimePoint t0 = Clock::now();
    StatsHistory history;
    history.record(loadOf(1), t0);
    history.record(loadOf(3), t0 + 2s);
    // Between the samples, both workers together: 40 assignments, 80 xacts, 160 queries,
    // 4000 B in, 12000 B out, 8000 us in xacts, 16000 us in queries, 2000 us waiting, 8 logins; in 2 s.
    const Reports now = loadOf(3);
    Decoded averages = wire(history.showStatsAverages(now));
    ASSERT_EQ(averages.rows.size(), 2u) << "app and the console";
    EXPECT_EQ(averages.lookup("database", "app", "server_assignment_count"), "20");
    EXPECT_EQ(averages.lookup("database", "app", "xact_count"), "40");
    EXPECT_EQ(averages.lookup("database", "app", "query_count"), "80");
    EXPECT_EQ(averages.lookup("database", "app", "bytes_received"), "2000");
    EXPECT_EQ(averages.lookup("database", "app", "bytes_sent"), "6000");
    EXPECT_EQ(averages.lookup("database", "app", "xact_time"), "100") << "per transaction";
    EXPECT_EQ(averages.lookup("database", "app", "query_time"), "100") << "per query";
    EXPECT_EQ(averages.lookup("database", "app", "wait_time"), "50") << "per assignment";

    Decoded shown = wire(history.showStats(now));
    EXPECT_EQ(shown.lookup("database", "app", "avg_server_assignment_count"), "20");
    EXPECT_EQ(shown.lookup("database", "app", "avg_xact_count"), "40");
    EXPECT_EQ(shown.lookup("database", "app", "avg_query_count"), "80");
    EXPECT_EQ(shown.lookup("database", "app", "avg_recv"), "2000");
    EXPECT_EQ(shown.lookup("database", "app", "avg_sent"), "6000");
    EXPECT_EQ(shown.lookup("database", "app", "avg_xact_time"), "100");
    EXPECT_EQ(shown.lookup("database", "app", "avg_query_time"), "100");
    EXPECT_EQ(shown.lookup("database", "app", "avg_wait_time"), "50");
    EXPECT_EQ(wire(history.metricsStats(now)).lookup("database", "app", "avg_client_connect_count"), "4");
    EXPECT_EQ(shown.lookup("database", "app", "total_query_count"), "240") << "totals are of now";

    Decoded all = wire(history.showTotals(now));
    EXPECT_EQ(all.lookup("name", "avg_query_count", "value"), "80");
    EXPECT_EQ(all.lookup("name", "avg_client_bytes", "value"), "2000");
    EXPECT_EQ(all.lookup("name", "avg_wait_time", "value"), "50");

    const std::string line = history.logLine();
    EXPECT_NE(line.find("stats: 40 xacts/s, 80 queries/s"), std::string::npos) << line;
    EXPECT_NE(line.find("in 2000 B/s, out 6000 B/s"), std::string::npos) << line;
    EXPECT_NE(line.find("xact 100 us, query 100 us, wait 50 us"), std::string::npos) << line;
}

TEST(AdminStats, AveragesCoverOnlyTheLastPeriod) {
    const TimePoint t0 = Clock::now();
    StatsHistory history;
    history.record(loadOf(1), t0);
    history.record(loadOf(3), t0 + 1s);
    history.record(loadOf(3), t0 + 2s);  // an idle period
    Decoded averages = wire(history.showStatsAverages(loadOf(3)));
    EXPECT_EQ(averages.lookup("database", "app", "query_count"), "0");
    EXPECT_EQ(averages.lookup("database", "app", "query_time"), "0") << "no query: no average time";

    history.record(loadOf(4), t0 + 6s);  // a 4 s period: 80 queries over 4 s
    averages = wire(history.showStatsAverages(loadOf(4)));
    EXPECT_EQ(averages.lookup("database", "app", "query_count"), "20");
}

TEST(AdminStats, TheFirstPeriodIsAveragedFromTheStart) {
    // As PgBouncer: before the first tick, the newest sample is "nothing counted, at start".
    const TimePoint start = Clock::now();
    StatsHistory history(start);
    Decoded before = wire(history.showStatsAverages(loadOf(5)));
    EXPECT_EQ(before.lookup("database", "app", "query_count"), "0") << "no period has ended yet";
    history.record(loadOf(5), start + 2s);
    Decoded averages = wire(history.showStatsAverages(loadOf(6)));
    EXPECT_NE(averages.lookup("database", "app", "query_count"), "0");
    EXPECT_EQ(history.logLine().find("stats: 0 xacts/s, 0 queries/s"), std::string::npos) << history.logLine();
}

TEST(AdminStats, ADatabaseNewInTheLastPeriodIsAveragedFromZero) {
    const TimePoint t0 = Clock::now();
    StatsHistory history;
    history.record(loadOf(1, "app"), t0);
    Reports later = loadOf(1, "app");
    Reports fresh = loadOf(1, "fresh");
    for (size_t i = 0; i < later.size(); ++i)
        later[i].pools.insert(later[i].pools.end(), fresh[i].pools.begin(), fresh[i].pools.end());
    history.record(later, t0 + 2s);
    Decoded averages = wire(history.showStatsAverages(later));
    EXPECT_EQ(averages.lookup("database", "fresh", "query_count"), "40");
    EXPECT_EQ(averages.lookup("database", "app", "query_count"), "0");
}

TEST(AdminStats, AveragesBetweenGuardsAgainstNoTimeAndCountersGoingBack) {
    const pool::PoolStats older = stats(10, 10, 10, 10, 10, 10, 10, 10, 10);
    const pool::PoolStats newer = stats(20, 30, 50, 110, 210, 1010, 2010, 110, 12);
    Averages zero = averagesBetween(older, newer, 0);
    EXPECT_EQ(zero.queries, 0u);
    EXPECT_EQ(zero.queryMicros, 0u);

    Averages a = averagesBetween(older, newer, 2.0);
    EXPECT_EQ(a.serverAssignments, 5u);
    EXPECT_EQ(a.transactions, 10u);
    EXPECT_EQ(a.queries, 20u);
    EXPECT_EQ(a.bytesReceived, 50u);
    EXPECT_EQ(a.bytesSent, 100u);
    EXPECT_EQ(a.transactionMicros, 50u);  // 1000 us over 20 xacts
    EXPECT_EQ(a.queryMicros, 50u);        // 2000 us over 40 queries
    EXPECT_EQ(a.waitMicros, 10u);         // 100 us over 10 assignments
    EXPECT_EQ(a.clientLogins, 1u);

    // A pool that went away and came back (counters restarted) must not wrap to huge numbers.
    Averages back = averagesBetween(newer, older, 1.0);
    EXPECT_EQ(back.queries, 0u);
    EXPECT_EQ(back.bytesSent, 0u);
    EXPECT_EQ(back.queryMicros, 0u);
}

}  // namespace
}  // namespace sluice::admin
