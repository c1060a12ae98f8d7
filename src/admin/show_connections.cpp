// SHOW CLIENTS, SERVERS, SOCKETS, ACTIVE_SOCKETS, POOLS, LISTS, MEM: what the workers reported.
#include <fmt/format.h>

#include <map>

#include "admin/show.h"
#include "conn/client_conn.h"
#include "conn/server_conn.h"

namespace sluice::admin {

namespace {

// PgBouncer's socket columns (SHOW CLIENTS/SERVERS), then SHOW SOCKETS' debug columns.
ResultSet socketHeader(bool debug) {
    ResultSet::Columns columns = {
        {"type", ColumnType::Text},          {"user", ColumnType::Text},
        {"database", ColumnType::Text},      {"replication", ColumnType::Text},
        {"state", ColumnType::Text},         {"addr", ColumnType::Text},
        {"port", ColumnType::Int4},          {"local_addr", ColumnType::Text},
        {"local_port", ColumnType::Int4},    {"connect_time", ColumnType::Timestamptz},
        {"request_time", ColumnType::Timestamptz}, {"wait", ColumnType::Int4},
        {"wait_us", ColumnType::Int4},       {"close_needed", ColumnType::Int4},
        {"ptr", ColumnType::Text},           {"link", ColumnType::Text},
        {"remote_pid", ColumnType::Int4},    {"tls", ColumnType::Text},
        {"application_name", ColumnType::Text}, {"prepared_statements", ColumnType::Int4},
        {"id", ColumnType::Int4}};
    if (debug)
        for (std::string_view name : {"recv_pos", "pkt_pos", "pkt_remain", "send_pos", "send_remain", "pkt_avail",
                                      "send_avail"})
            columns.emplace_back(name, ColumnType::Int4);
    return ResultSet(columns);
}

std::string pointer(uintptr_t value) { return value ? fmt::format("{:#x}", value) : std::string(); }

void addSocketRow(ResultSet& set, const conn::ConnectionRow& row, bool debug, bool listStates) {
    std::vector<Cell> cells = {
        row.isServer ? "S" : "C",
        row.user,
        row.database,
        row.replication,
        listStates ? row.listState : row.state,
        row.remoteAddress,
        row.remotePort,
        row.localAddress,
        row.localPort,
        Cell::time(row.connectMicros),
        Cell::time(row.requestMicros),
        static_cast<int>(row.waitMicros / 1000000),
        static_cast<int>(row.waitMicros % 1000000),
        row.closeNeeded ? 1 : 0,
        pointer(row.ptr),
        pointer(row.link),
        row.remotePid,
        row.tls,
        row.applicationName,
        row.preparedStatements,
        row.id,
    };
    if (debug) {
        // Sluice has no packet-position bookkeeping of PgBouncer's kind: what is buffered each way.
        const int input = static_cast<int>(row.bufferedInput);
        const int output = static_cast<int>(row.queuedOutput);
        for (Cell cell : {Cell(input), Cell(0), Cell(0), Cell(0), Cell(output), Cell(input), Cell(output)})
            cells.push_back(cell);
    }
    set.addRow(cells);
}

}  // namespace

ResultSet showClients(const Reports& reports) {
    ResultSet set = socketHeader(false);
    for (const auto& report : reports)
        for (const auto& row : report.clients) addSocketRow(set, row, false, false);
    return set;
}

ResultSet showServers(const Reports& reports) {
    ResultSet set = socketHeader(false);
    for (const auto& report : reports)
        for (const auto& row : report.servers) addSocketRow(set, row, false, false);
    return set;
}

ResultSet showSockets(const Reports& reports, bool activeOnly) {
    ResultSet set = socketHeader(true);
    for (const auto& report : reports) {
        for (const auto* rows : {&report.clients, &report.servers, &report.loginClients})
            for (const auto& row : *rows)
                if (!activeOnly || row.bufferedInput > 0 || row.queuedOutput > 0) addSocketRow(set, row, true, true);
    }
    return set;
}

ResultSet showPools(const Reports& reports) {
    ResultSet set{{"database", ColumnType::Text},         {"user", ColumnType::Text},
                  {"cl_active", ColumnType::Int4},        {"cl_waiting", ColumnType::Int4},
                  {"cl_active_cancel_req", ColumnType::Int4}, {"cl_waiting_cancel_req", ColumnType::Int4},
                  {"sv_active", ColumnType::Int4},        {"sv_active_cancel", ColumnType::Int4},
                  {"sv_being_canceled", ColumnType::Int4}, {"sv_idle", ColumnType::Int4},
                  {"sv_used", ColumnType::Int4},          {"sv_tested", ColumnType::Int4},
                  {"sv_login", ColumnType::Int4},         {"maxwait", ColumnType::Int4},
                  {"maxwait_us", ColumnType::Int4},       {"pool_mode", ColumnType::Text},
                  {"load_balance_hosts", ColumnType::Text}};
    // One row per pool, the workers' shards of it summed.
    std::map<std::pair<std::string, std::string>, conn::PoolRow> pools;
    int consoleClients = 0;
    for (const auto& report : reports) {
        consoleClients += report.adminClients;
        for (const auto& row : report.pools) {
            auto& pool = pools[{row.database, row.user}];
            pool.poolMode = row.poolMode;
            pool.clientsActive += row.clientsActive;
            pool.clientsWaiting += row.clientsWaiting;
            pool.serversActive += row.serversActive;
            pool.serversIdle += row.serversIdle;
            pool.serversUsed += row.serversUsed;
            pool.serversTested += row.serversTested;
            pool.serversLogin += row.serversLogin;
            pool.serversBeingCanceled += row.serversBeingCanceled;
            pool.cancelsInFlight += row.cancelsInFlight;
            pool.maxWaitMicros = std::max(pool.maxWaitMicros, row.maxWaitMicros);
        }
    }
    // PgBouncer lists its console as a pool too; monitoring that expects the row finds it.
    set.addRow({kConsoleDatabase, kConsoleDatabase, consoleClients, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "statement",
                nullptr});
    for (const auto& [key, pool] : pools)
        // A forwarded cancel is both a cancel client waiting for its answer and a connection
        // to the server carrying it (PgBouncer's active cancel request and active_cancel server).
        set.addRow({key.first, key.second, pool.clientsActive, pool.clientsWaiting, pool.cancelsInFlight, 0,
                    pool.serversActive, pool.cancelsInFlight, pool.serversBeingCanceled, pool.serversIdle, pool.serversUsed, pool.serversTested, pool.serversLogin,
                    static_cast<int>(pool.maxWaitMicros / 1000000), static_cast<int>(pool.maxWaitMicros % 1000000),
                    pool.poolMode, nullptr});
    return set;
}

ResultSet showLists(const Reports& reports, const config::Config& config, const auth::AuthFile& authFile) {
    ResultSet set{{"list", ColumnType::Text}, {"items", ColumnType::Int4}};
    std::set<std::pair<std::string, std::string>> pools;
    std::set<std::string> users;
    for (const auto& [name, secret] : authFile) users.insert(name);
    for (const auto& [name, entry] : config.users) users.insert(name);
    int usedClients = 0, loginClients = 0, usedServers = 0;
    for (const auto& report : reports) {
        for (const auto& row : report.pools) {
            pools.insert({row.database, row.user});
            users.insert(row.user);
        }
        usedClients += static_cast<int>(report.clients.size() + report.loginClients.size());
        loginClients += static_cast<int>(report.loginClients.size());
        usedServers += static_cast<int>(report.servers.size());
    }
    // Databases and pools count the console's own, as PgBouncer does.
    set.addRow({"databases", static_cast<int>(config.databases.size()) + 1});
    set.addRow({"users", static_cast<int>(users.size())});
    set.addRow({"peers", static_cast<int>(config.peers.size())});
    set.addRow({"pools", static_cast<int>(pools.size()) + 1});
    set.addRow({"peer_pools", static_cast<int>(config.peers.size())});
    set.addRow({"free_clients", 0});
    set.addRow({"used_clients", usedClients});
    set.addRow({"login_clients", loginClients});
    set.addRow({"free_servers", 0});
    set.addRow({"used_servers", usedServers});
    set.addRow({"dns_names", 0});
    set.addRow({"dns_zones", 0});
    set.addRow({"dns_queries", 0});
    set.addRow({"dns_pending", 0});
    return set;
}

ResultSet showMem(const Reports& reports) {
    ResultSet set{{"name", ColumnType::Text},
                  {"size", ColumnType::Int4},
                  {"used", ColumnType::Int4},
                  {"free", ColumnType::Int4},
                  {"memtotal", ColumnType::Int4}};
    // Sluice has no slab caches: the connection objects in use, without their buffers.
    size_t clients = 0, servers = 0;
    for (const auto& report : reports) {
        clients += report.clientObjects;
        servers += report.serverObjects;
    }
    auto row = [&set](const char* name, size_t size, size_t used) {
        set.addRow({name, static_cast<int>(size), static_cast<int>(used), 0, static_cast<int>(size * used)});
    };
    row("client_conn", sizeof(conn::ClientConn), clients);
    row("server_conn", sizeof(conn::ServerConn), servers);
    return set;
}

}  // namespace sluice::admin
