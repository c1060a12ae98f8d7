// One line of [databases]: `name = host=... port=... dbname=...` (PgBouncer 1.25's keys).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.h"

namespace sluice::config {

struct DatabaseEntry {
    std::string name;
    // Empty: unix socket in unix_socket_dir. Starting with '/' or '@': a unix socket directory
    // (file system or abstract namespace). May be a comma-separated list of hosts.
    std::string host;
    int port = 5432;
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
