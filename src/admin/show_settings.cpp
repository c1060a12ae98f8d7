// SHOW DATABASES, USERS, CONFIG, VERSION, STATE, FDS, DNS_HOSTS, DNS_ZONES, PEERS, PEER_POOLS and
// the help text: the configuration and the console's own state.
#include <map>

#include "admin/show.h"
#include "util/version.h"

namespace sluice::admin {

namespace {

struct DatabaseCounts {
    int servers = 0;
    int clients = 0;
};

std::map<std::string, DatabaseCounts> countByDatabase(const Reports& reports) {
    std::map<std::string, DatabaseCounts> counts;
    for (const auto& report : reports) {
        for (const auto& row : report.servers) ++counts[row.database].servers;
        for (const auto& row : report.clients) ++counts[row.database].clients;
    }
    return counts;
}

int orDefault(const std::optional<int>& value, int64_t fallback) { return value ? *value : static_cast<int>(fallback); }

}  // namespace

ResultSet showDatabases(const Reports& reports, const config::Config& config, const PauseState& pause,
                        const std::map<std::string, config::HostAddress>& inUse) {
    ResultSet set{{"name", ColumnType::Text},
                  {"host", ColumnType::Text},
                  {"port", ColumnType::Int4},
                  {"database", ColumnType::Text},
                  {"force_user", ColumnType::Text},
                  {"pool_size", ColumnType::Int4},
                  {"min_pool_size", ColumnType::Int4},
                  {"reserve_pool_size", ColumnType::Int4},
                  {"server_lifetime", ColumnType::Int4},
                  {"pool_mode", ColumnType::Text},
                  {"load_balance_hosts", ColumnType::Text},
                  {"max_connections", ColumnType::Int4},
                  {"current_connections", ColumnType::Int4},
                  {"max_client_connections", ColumnType::Int4},
                  {"current_client_connections", ColumnType::Int4},
                  {"paused", ColumnType::Int4},
                  {"disabled", ColumnType::Int4}};
    const auto& s = config.settings;
    const auto counts = countByDatabase(reports);
    auto countsOf = [&counts](const std::string& name) {
        auto it = counts.find(name);
        return it == counts.end() ? DatabaseCounts{} : it->second;
    };
    auto addEntry = [&](const std::string& name, const config::DatabaseEntry& entry) {
        const DatabaseCounts current = countsOf(name);
        const bool multiHost = entry.hosts.size() > 1;
        const auto used = inUse.find(name);
        set.addRow({name,
                    used != inUse.end() ? Cell(used->second.host) : entry.host.empty() ? Cell(nullptr) : Cell(entry.host),
                    used != inUse.end() ? used->second.port : entry.port,
                    entry.dbname.empty() ? name : entry.dbname,
                    entry.user.empty() ? Cell(nullptr) : Cell(entry.user),
                    orDefault(entry.poolSize, s.default_pool_size),
                    orDefault(entry.minPoolSize, s.min_pool_size),
                    orDefault(entry.reservePoolSize, s.reserve_pool_size),
                    static_cast<int>(entry.serverLifetime ? *entry.serverLifetime : s.server_lifetime),
                    entry.poolMode ? Cell(*entry.poolMode) : Cell(nullptr),
                    multiHost ? Cell(entry.loadBalanceHosts) : Cell(nullptr),
                    orDefault(entry.maxDbConnections, s.max_db_connections),
                    current.servers,
                    orDefault(entry.maxDbClientConnections, s.max_db_client_connections),
                    current.clients,
                    pause.paused || pause.pausedDatabases.count(name) ? 1 : 0,
                    pause.disabledDatabases.count(name) ? 1 : 0});
    };
    std::set<std::string> listed;
    for (const auto& [name, entry] : config.databases) {
        addEntry(name, entry);
        listed.insert(name);
    }
    // Databases reached through the "*" entry appear once they have a pool, as PgBouncer's
    // auto-databases do.
    if (config.fallbackDatabase) {
        for (const auto& report : reports)
            for (const auto& pool : report.pools)
                if (listed.insert(pool.database).second) addEntry(pool.database, *config.fallbackDatabase);
    }
    // The console's own database as PgBouncer shows it: pool size 2, statement mode, and the
    // global limits, which apply to it too (max_db_client_connections refuses console logins).
    set.addRow({kConsoleDatabase, nullptr, static_cast<int>(s.listen_port), kConsoleDatabase, kConsoleDatabase, 2, 0,
                0, static_cast<int>(s.server_lifetime), "statement", nullptr, static_cast<int>(s.max_db_connections), 0,
                static_cast<int>(s.max_db_client_connections),
                countsOf(kConsoleDatabase).clients + countsOf("sluice").clients, 0, 0});
    return set;
}

ResultSet showUsers(const Reports& reports, const config::Config& config, const auth::AuthFile& authFile) {
    ResultSet set{{"name", ColumnType::Text},
                  {"pool_size", ColumnType::Text},
                  {"reserve_pool_size", ColumnType::Text},
                  {"pool_mode", ColumnType::Text},
                  {"max_user_connections", ColumnType::Int4},
                  {"current_connections", ColumnType::Int4},
                  {"max_user_client_connections", ColumnType::Int4},
                  {"current_client_connections", ColumnType::Int4}};
    std::map<std::string, DatabaseCounts> byUser;
    for (const auto& [name, secret] : authFile) byUser[name];
    for (const auto& [name, entry] : config.users) byUser[name];
    for (const auto& report : reports) {
        for (const auto& row : report.servers) ++byUser[row.user].servers;
        for (const auto& row : report.clients) ++byUser[row.user].clients;
    }
    const auto& s = config.settings;
    for (const auto& [name, counts] : byUser) {
        const config::UserEntry* entry = nullptr;
        if (auto it = config.users.find(name); it != config.users.end()) entry = &it->second;
        auto optionalText = [](const std::optional<int>& value) {
            return value ? Cell(std::to_string(*value)) : Cell(nullptr);
        };
        set.addRow({name,
                    entry ? optionalText(entry->poolSize) : Cell(nullptr),
                    entry ? optionalText(entry->reservePoolSize) : Cell(nullptr),
                    entry && entry->poolMode ? Cell(*entry->poolMode) : Cell(nullptr),
                    entry ? orDefault(entry->maxUserConnections, s.max_user_connections)
                          : static_cast<int>(s.max_user_connections),
                    counts.servers,
                    entry ? orDefault(entry->maxUserClientConnections, s.max_user_client_connections)
                          : static_cast<int>(s.max_user_client_connections),
                    counts.clients});
    }
    return set;
}

ResultSet showConfig(const config::Settings& settings) {
    ResultSet set{{"key", ColumnType::Text},
                  {"value", ColumnType::Text},
                  {"default", ColumnType::Text},
                  {"changeable", ColumnType::Text}};
    for (const auto& def : config::settingTable())
        set.addRow({def.name, config::settingValue(settings, def), def.defaultValue, def.reloadable ? "yes" : "no"});
    return set;
}

ResultSet showVersion() {
    ResultSet set{{"version", ColumnType::Text}};
    set.addRow({versionLine()});
    return set;
}

ResultSet showState(const PauseState& pause) {
    ResultSet set{{"key", ColumnType::Text}, {"value", ColumnType::Text}};
    set.addRow({"active", !pause.paused && !pause.suspended ? "yes" : "no"});
    set.addRow({"paused", pause.paused ? "yes" : "no"});
    set.addRow({"suspended", pause.suspended ? "yes" : "no"});
    return set;
}

ResultSet showFds(const Reports& reports) {
    // PgBouncer's columns. Secrets are never shown (PgBouncer passes them here to its successor;
    // Sluice's takeover carries them on its own channel, never in a result set).
    ResultSet set{{"fd", ColumnType::Int4},           {"task", ColumnType::Text},
                     {"user", ColumnType::Text},         {"database", ColumnType::Text},
                     {"addr", ColumnType::Text},         {"port", ColumnType::Int4},
                     {"cancel", ColumnType::Int8},       {"link", ColumnType::Int4},
                     {"client_encoding", ColumnType::Text}, {"std_strings", ColumnType::Text},
                     {"datestyle", ColumnType::Text},    {"timezone", ColumnType::Text},
                     {"password", ColumnType::Text},     {"scram_client_key", ColumnType::Bytea},
                     {"scram_server_key", ColumnType::Bytea}};
    std::map<uintptr_t, int> fdOf;  // `link` names the linked connection by its socket
    for (const auto& report : reports)
        for (const auto* rows : {&report.clients, &report.servers})
            for (const auto& row : *rows) fdOf[row.ptr] = row.fd;
    auto text = [](const std::string& value) { return value.empty() ? Cell::null() : Cell(value); };
    for (const auto& report : reports)
        for (const auto* rows : {&report.clients, &report.servers})
            for (const auto& row : *rows) {
                if (row.fd < 0) continue;
                auto link = fdOf.find(row.link);
                set.addRow({row.fd, row.isServer ? "server" : "client", row.user, row.database, row.remoteAddress,
                            row.remotePort, static_cast<long long>(row.cancelKey),
                            link != fdOf.end() && row.link != 0 ? Cell(link->second) : Cell::null(),
                            text(row.clientEncoding), text(row.standardConformingStrings), text(row.dateStyle),
                            text(row.timeZone), Cell::null(), Cell::null(), Cell::null()});
            }
    return set;
}

ResultSet showDnsHosts() {
    return ResultSet{{"hostname", ColumnType::Text}, {"ttl", ColumnType::Int8}, {"addrs", ColumnType::Text}};
}

ResultSet showDnsZones() {
    return ResultSet{{"zonename", ColumnType::Text}, {"serial", ColumnType::Int8}, {"count", ColumnType::Int4}};
}

ResultSet showPeers(const config::Config& config) {
    ResultSet set{{"peer_id", ColumnType::Int4},
                  {"host", ColumnType::Text},
                  {"port", ColumnType::Int4},
                  {"pool_size", ColumnType::Int4}};
    for (const auto& [id, peer] : config.peers)
        set.addRow({id, peer.host, peer.port,
                    peer.poolSize.value_or(static_cast<int>(config.settings.default_pool_size))});
    return set;
}

ResultSet showPeerPools(const Reports& reports, const config::Config& config) {
    // PgBouncer's docs call the first column "database"; what it sends is the peer's id.
    ResultSet set{{"peer_id", ColumnType::Int4},
                  {"cl_active_cancel_req", ColumnType::Int4},
                  {"cl_waiting_cancel_req", ColumnType::Int4},
                  {"sv_active_cancel", ColumnType::Int4},
                  {"sv_login", ColumnType::Int4}};
    for (const auto& [id, peer] : config.peers) {
        conn::PeerCancelCounts sum;
        for (const auto& report : reports)
            if (auto it = report.peerCancels.find(id); it != report.peerCancels.end()) {
                sum.waiting += it->second.waiting;
                sum.connecting += it->second.connecting;
                sum.sent += it->second.sent;
            }
        // A forwarded request is active from the moment its connection to the peer is opened.
        set.addRow({id, sum.connecting + sum.sent, sum.waiting, sum.sent, sum.connecting});
    }
    return set;
}

std::string helpText() {
    return "\n"
           "\tSHOW HELP|CONFIG|DATABASES|POOLS|CLIENTS|SERVERS|USERS|VERSION\n"
           "\tSHOW PEERS|PEER_POOLS\n"
           "\tSHOW FDS|SOCKETS|ACTIVE_SOCKETS|LISTS|MEM|STATE\n"
           "\tSHOW DNS_HOSTS|DNS_ZONES\n"
           "\tSHOW HOSTS\n"
           "\tSHOW STATS|STATS_TOTALS|STATS_AVERAGES|TOTALS\n"
           "\tSET key = arg\n"
           "\tRELOAD\n"
           "\tPAUSE [<db>]\n"
           "\tRESUME [<db>]\n"
           "\tDISABLE <db>\n"
           "\tENABLE <db>\n"
           "\tRECONNECT [<db>]\n"
           "\tKILL [<db>]\n"
           "\tKILL_CLIENT <client_id>\n"
           "\tSUSPEND\n"
           "\tSHUTDOWN\n"
           "\tSHUTDOWN WAIT_FOR_SERVERS|WAIT_FOR_CLIENTS\n"
           "\tWAIT_CLOSE [<db>]";
}

}  // namespace sluice::admin
