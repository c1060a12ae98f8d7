// One line of [databases]: `name = host=... port=... dbname=...` (PgBouncer 1.25's keys).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "util/result.h"

namespace sluice::config {

// One host of an entry's host list, with its port.
struct HostAddress {
    std::string host;  // empty: unix_socket_dir; starting with '/': a unix socket directory
    int port = 5432;
    bool operator==(const HostAddress&) const = default;
    bool operator<(const HostAddress& o) const { return std::tie(host, port) < std::tie(o.host, o.port); }
};

struct DatabaseEntry {
    std::string name;
    // As written. Empty: unix socket in unix_socket_dir. Starting with '/' or '@': a unix socket
    // directory (file system or abstract namespace). May be a comma-separated list of hosts,
    // with `port` one port for all or a list of the same length (libpq's rules).
    std::string host;
    int port = 5432;  // the first host's
    std::vector<int> ports;         // as written (empty: 5432)
    std::vector<HostAddress> hosts;  // host and port lists paired, in the order written
    std::string dbname;  // defaults to name; stays empty on the "*" fallback (= the client's database)
    std::string user;    // non-empty: every client of this database logs in to the server as this user
    std::string password;
    std::string authUser;
    std::string authQuery;
    std::string authDbname;
    std::optional<int> poolSize, minPoolSize, reservePoolSize, maxDbConnections, maxDbClientConnections;
    std::optional<std::string> poolMode;
    std::string connectQuery;
    std::optional<double> serverLifetime;     // seconds
    std::optional<double> queryWaitTimeout;   // seconds; -1 in the file means "not set"
    // Which hosts of the list a server connection may use, and in which order (libpq's
    // target_session_attrs; PgBouncer 1.24's load_balance_hosts, plus libpq's "random").
    std::string loadBalanceHosts = "round-robin";
    std::string targetSessionAttrs = "any";
    // Sent in the server's startup packet: client_encoding, DateStyle, TimeZone, application_name.
    std::vector<std::pair<std::string, std::string>> startupParameters;
    // Where the entry was read (for messages); empty/0 when it did not come from a file.
    std::string file;
    int line = 0;
};

// The keys a [databases] entry accepts, for messages and documentation.
const std::vector<std::string_view>& databaseEntryKeys();

// `name` is the (already unquoted) key, `value` the connection string. Errors carry no
// file:line; the loader adds it.
Result<DatabaseEntry> parseDatabaseEntry(std::string_view name, std::string_view value);

// The entry a client asking for `database` gets from the "*" fallback.
DatabaseEntry instantiateFallback(const DatabaseEntry& fallback, std::string_view database);

}  // namespace sluice::config
