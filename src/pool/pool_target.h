// Everything a pool needs to know to open and size its server connections: resolved once per
// config snapshot from [pooler], the database entry and the [users] entry, with PgBouncer's
// precedence (user entry over database entry over global).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "discovery/host_choice.h"
#include "discovery/host_registry.h"
#include "pool/pool_mode.h"

namespace sluice::pool {

struct PoolTarget {
    std::string database;       // name clients connect to
    // The entry's hosts in order (an empty host replaced by unix_socket_dir: PgBouncer connects
    // over the unix socket dir), and which of them a server may use.
    std::vector<config::HostAddress> hosts;
    discovery::SessionAttrs sessionAttrs = discovery::SessionAttrs::Any;
    discovery::LoadBalance loadBalance = discovery::LoadBalance::RoundRobin;
    discovery::HostList hostStates;  // one per host, shared process-wide (discovery/host_registry.h)
    double maxStandbyLag = 0;        // seconds; 0 = no limit
    double primaryWaitTimeout = 0;   // how long clients wait while no host qualifies; 0 = queryWaitTimeout
    std::string dbname;         // database on the server
    std::string serverUser;
    std::string serverPassword; // plain, md5 hash, or empty
    std::string connectQuery;
    std::vector<std::pair<std::string, std::string>> startupParameters;

    PoolMode mode = PoolMode::Session;
    int poolSize = 20;
    int minPoolSize = 0;
    int reservePoolSize = 0;
    double reservePoolTimeout = 5;
    int64_t maxDbConnections = 0;  // 0 = unlimited, as every limit below
    int64_t maxUserConnections = 0;
    int64_t maxDbClientConnections = 0;
    double serverLifetime = 3600;

    // Timeouts in seconds (0 = none), with the [users] entry's overrides applied.
    double queryTimeout = 0;
    double queryWaitTimeout = 120;
    double idleTransactionTimeout = 0;
    double transactionTimeout = 0;
    double clientIdleTimeout = 0;
    bool forcedUser = false;  // the database entry names the user; every client shares its pool

    // Whether the hosts' roles matter: several hosts, or target_session_attrs other than any.
    bool multiHost() const { return hosts.size() > 1 || sessionAttrs != discovery::SessionAttrs::Any; }
};

// The entry's hosts as servers are reached: an empty host is the unix socket directory.
std::vector<config::HostAddress> resolveHosts(const config::DatabaseEntry& entry, const config::Settings& settings);

// Whether servers opened for `a` can serve `b` (same place, same login, same session setup).
bool sameServer(const PoolTarget& a, const PoolTarget& b);

// Resolves the target for `clientUser` connecting to database `name` (an entry, or the "*" fallback).
// Per-user settings come from the [users] entry of the pool's user: the forced user's when the
// entry names one (every client then shares the pool), else the client's.
// The password for the server comes from the entry, else from the auth_file secret given.
// The hosts' states come from `hosts`, shared with every other entry that lists them.
std::shared_ptr<const PoolTarget> resolvePoolTarget(const config::Config& config, const config::DatabaseEntry& entry,
                                                    const std::string& databaseName, const std::string& clientUser,
                                                    const std::string& authFileSecret,
                                                    discovery::HostRegistry& hosts);

}  // namespace sluice::pool
