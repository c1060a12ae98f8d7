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
             const auto port = parseInteger(v);
             if (!port || *port < 1 || *port > 65535) return invalidValue(k, v, "expected a port between 1 and 65535");
             e.port = static_cast<int>(*port);
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
             e.serverLifetime = *secs;
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
        {"load_balance_hosts", oneOf(&E::loadBalanceHosts, {"round-robin", "disable"})},
        {"target_session_attrs",
         oneOf(&E::targetSessionAttrs, {"any", "read-write", "read-only", "primary", "standby"})},
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
    return entry;
}

DatabaseEntry instantiateFallback(const DatabaseEntry& fallback, std::string_view database) {
    DatabaseEntry entry = fallback;
    entry.name = std::string(database);
    if (entry.dbname.empty()) entry.dbname = entry.name;
    return entry;
}

}  // namespace sluice::config
