#include "config/database_entry.h"

#include <functional>

#include "config/conn_string.h"
#include "config/value_parse.h"

namespace sluice::config {
namespace {

Error invalidValue(std::string_view key, std::string_view value, std::string_view expected) {
    return Error{"invalid value '" + std::string(value) + "' for '" + std::string(key) + "': " + std::string(expected),
                 ""};
}

std::string joinKeys(const std::vector<std::string_view>& keys) {
    std::string joined;
    for (const auto& key : keys) {
        if (!joined.empty()) joined += ", ";
        joined += key;
    }
    return joined;
}

Status setCount(std::optional<int>& target, std::string_view key, std::string_view value) {
    const auto count = parseCount(value);
    if (!count) return invalidValue(key, value, "expected a whole number between 0 and 2147483647");
    target = *count;
    return okStatus();
}

void setStartupParameter(DatabaseEntry& entry, std::string_view name, std::string_view value) {
    for (auto& [existing, existingValue] : entry.startupParameters) {
        if (existing == name) {
            existingValue = std::string(value);
            return;
        }
    }
    entry.startupParameters.emplace_back(std::string(name), std::string(value));
}

// "a, b,c" -> {"a", "b", "c"}; an empty text is one empty item (the unix socket default).
std::vector<std::string_view> splitList(std::string_view text) {
    std::vector<std::string_view> items;
    size_t start = 0;
    while (true) {
        size_t comma = text.find(',', start);
        items.push_back(trim(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
        if (comma == std::string_view::npos) return items;
        start = comma + 1;
    }
}

// Pairs the host list with the port list as libpq does: one port for all, or one per host.
Status pairHostsWithPorts(DatabaseEntry& entry) {
    const std::vector<std::string_view> hosts = splitList(entry.host);
    if (hosts.size() > 1)
        for (std::string_view host : hosts)
            if (host.empty()) return Error{"empty host name in host list '" + entry.host + "'", ""};
    if (entry.ports.size() > 1 && entry.ports.size() != hosts.size())
        return Error{"host lists " + std::to_string(hosts.size()) + " hosts but port lists " +
                         std::to_string(entry.ports.size()) + " ports; give one port for every host, or a single port",
                     ""};
    entry.hosts.clear();
    for (size_t i = 0; i < hosts.size(); ++i) {
        const int port = entry.ports.empty() ? 5432 : entry.ports[entry.ports.size() == 1 ? 0 : i];
        entry.hosts.push_back(HostAddress{std::string(hosts[i]), port});
    }
    return okStatus();
}

using KeyHandler = std::function<Status(DatabaseEntry&, std::string_view key, std::string_view value)>;

Status setText(std::string DatabaseEntry::*field, DatabaseEntry& entry, std::string_view value) {
    entry.*field = std::string(value);
    return okStatus();
}

const std::vector<std::pair<std::string_view, KeyHandler>>& keyHandlers() {
    using E = DatabaseEntry;
    auto text = [](std::string E::*field) {
        return [field](E& e, std::string_view, std::string_view v) { return setText(field, e, v); };
    };
    auto count = [](std::optional<int> E::*field) {
        return [field](E& e, std::string_view k, std::string_view v) { return setCount(e.*field, k, v); };
    };
    auto startup = [](std::string_view parameter) {
        return [parameter](E& e, std::string_view, std::string_view v) {
            setStartupParameter(e, parameter, v);
            return okStatus();
        };
    };
    auto oneOf = [](std::string E::*field, std::vector<std::string_view> allowed) {
        return [field, allowed](E& e, std::string_view k, std::string_view v) -> Status {
            const std::string lower = toLower(v);
            for (const auto& candidate : allowed) {
                if (candidate == lower) {
                    e.*field = lower;
                    return okStatus();
                }
            }
            return invalidValue(k, v, "expected one of " + joinKeys(allowed));
        };
    };
    static const std::vector<std::pair<std::string_view, KeyHandler>> handlers = {
        {"dbname", text(&E::dbname)},
        {"host", text(&E::host)},
        {"port",
         [](E& e, std::string_view k, std::string_view v) -> Status {
             e.ports.clear();
             for (std::string_view item : splitList(v)) {
                 const auto port = parseInteger(item);
                 if (!port || *port < 1 || *port > 65535)
                     return invalidValue(k, v, "expected a port between 1 and 65535, or a comma-separated list of them");
                 e.ports.push_back(static_cast<int>(*port));
             }
             e.port = e.ports.front();
             return okStatus();
         }},
        {"user", text(&E::user)},
        {"password", text(&E::password)},
        {"auth_user", text(&E::authUser)},
        {"auth_query", text(&E::authQuery)},
        {"auth_dbname", text(&E::authDbname)},
        {"pool_size", count(&E::poolSize)},
        {"min_pool_size", count(&E::minPoolSize)},
        {"reserve_pool_size", count(&E::reservePoolSize)},
        {"reserve_pool", count(&E::reservePoolSize)},  // older spelling PgBouncer still accepts
        {"max_db_connections", count(&E::maxDbConnections)},
        {"max_db_client_connections", count(&E::maxDbClientConnections)},
        {"pool_mode",
         [](E& e, std::string_view k, std::string_view v) -> Status {
             auto mode = parsePoolModeName(v);
             if (!mode) return invalidValue(k, v, "expected one of session, transaction, statement");
             e.poolMode = std::move(*mode);
             return okStatus();
         }},
        {"connect_query", text(&E::connectQuery)},
        {"server_lifetime",
         [](E& e, std::string_view k, std::string_view v) -> Status {
             const auto secs = parseSeconds(v);
             if (!secs || *secs < 0) return invalidValue(k, v, "expected a non-negative number of seconds");
             // As PgBouncer: 0 here means "not set" (the global server_lifetime applies), not
             // the global setting's "use each server once".
             if (*secs > 0) e.serverLifetime = *secs;
             else e.serverLifetime.reset();
             return okStatus();
         }},
        {"query_wait_timeout",
         [](E& e, std::string_view k, std::string_view v) -> Status {
             const auto secs = parseSeconds(v);
             if (!secs || (*secs < 0 && *secs != -1))
                 return invalidValue(k, v, "expected a non-negative number of seconds, or -1 for not set");
             e.queryWaitTimeout = *secs < 0 ? std::nullopt : std::optional<double>(*secs);
             return okStatus();
         }},
        {"load_balance_hosts", oneOf(&E::loadBalanceHosts, {"round-robin", "random", "disable"})},
        {"target_session_attrs", oneOf(&E::targetSessionAttrs, {"any", "read-write", "read-only", "primary",
                                                                 "standby", "prefer-standby"})},
        {"client_encoding", startup("client_encoding")},
        {"datestyle", startup("DateStyle")},
        {"timezone", startup("TimeZone")},
        {"application_name", startup("application_name")},
    };
    return handlers;
}

}  // namespace

const std::vector<std::string_view>& databaseEntryKeys() {
    static const std::vector<std::string_view> keys = [] {
        std::vector<std::string_view> names;
        for (const auto& [name, handler] : keyHandlers()) names.push_back(name);
        return names;
    }();
    return keys;
}

Result<DatabaseEntry> parseDatabaseEntry(std::string_view name, std::string_view value) {
    if (name.empty()) return Error{"empty database name", ""};
    // The admin console answers on this name, so no pool may take it.
    if (name == "pgbouncer") return Error{"database name 'pgbouncer' is reserved for the admin console", ""};

    auto pairs = splitConnString(value);
    if (!pairs) return pairs.error();

    DatabaseEntry entry;
    entry.name = std::string(name);
    for (const auto& [key, text] : pairs.value()) {
        const KeyHandler* handler = nullptr;
        for (const auto& [candidate, candidateHandler] : keyHandlers())
            if (candidate == key) handler = &candidateHandler;
        if (!handler)
            return Error{"unknown key '" + key + "' in database entry; allowed keys: " + joinKeys(databaseEntryKeys()),
                         ""};
        auto status = (*handler)(entry, key, text);
        if (!status) return status.error();
    }
    if (entry.dbname.empty() && name != "*") entry.dbname = entry.name;
    if (auto status = pairHostsWithPorts(entry); !status) return status.error();
    return entry;
}

DatabaseEntry instantiateFallback(const DatabaseEntry& fallback, std::string_view database) {
    DatabaseEntry entry = fallback;
    entry.name = std::string(database);
    if (entry.dbname.empty()) entry.dbname = entry.name;
    return entry;
}

}  // namespace sluice::config
