#include "pool/pool_target.h"

namespace sluice::pool {

std::vector<config::HostAddress> resolveHosts(const config::DatabaseEntry& entry, const config::Settings& settings) {
    std::vector<config::HostAddress> hosts = entry.hosts;
    if (hosts.empty()) hosts.push_back(config::HostAddress{"", entry.port});
    for (auto& address : hosts)
        if (address.host.empty()) address.host = settings.unix_socket_dir;  // PgBouncer connects over the unix socket dir
    return hosts;
}

bool sameServer(const PoolTarget& a, const PoolTarget& b) {
    return a.hosts == b.hosts && a.sessionAttrs == b.sessionAttrs && a.dbname == b.dbname && a.serverUser == b.serverUser &&
           a.serverPassword == b.serverPassword && a.connectQuery == b.connectQuery &&
           a.startupParameters == b.startupParameters;
}

std::shared_ptr<const PoolTarget> resolvePoolTarget(const config::Config& config, const config::DatabaseEntry& entry,
                                                    const std::string& databaseName, const std::string& clientUser,
                                                    const std::string& authFileSecret,
                                                    discovery::HostRegistry& hosts) {
    const auto& settings = config.settings;
    auto target = std::make_shared<PoolTarget>();
    target->database = databaseName;
    target->hosts = resolveHosts(entry, settings);
    target->sessionAttrs = discovery::parseSessionAttrs(entry.targetSessionAttrs);
    target->loadBalance = discovery::parseLoadBalance(entry.loadBalanceHosts);
    target->hostStates = hosts.hostsFor(target->hosts, target->multiHost());
    target->maxStandbyLag = settings.max_standby_lag;
    target->primaryWaitTimeout = settings.primary_wait_timeout;
    target->dbname = entry.dbname.empty() ? databaseName : entry.dbname;
    target->forcedUser = !entry.user.empty();
    target->serverUser = target->forcedUser ? entry.user : clientUser;
    target->serverPassword = (target->forcedUser && !entry.password.empty()) ? entry.password : authFileSecret;
    target->connectQuery = entry.connectQuery;
    target->startupParameters = entry.startupParameters;

    // The pool's user is the server user: with a forced user every client shares one pool, so
    // its size, mode, limits and timeouts come from that user's [users] entry, as PgBouncer's pool
    // settings do, never from whichever client's user happened to resolve the target last.
    const config::UserEntry* user = nullptr;
    if (auto it = config.users.find(target->serverUser); it != config.users.end()) user = &it->second;

    std::string mode = settings.pool_mode;
    if (entry.poolMode) mode = *entry.poolMode;
    if (user && user->poolMode) mode = *user->poolMode;
    target->mode = parsePoolMode(mode).value_or(PoolMode::Session);

    target->poolSize = static_cast<int>(settings.default_pool_size);
    if (entry.poolSize) target->poolSize = *entry.poolSize;
    if (user && user->poolSize) target->poolSize = *user->poolSize;

    target->minPoolSize = entry.minPoolSize.value_or(static_cast<int>(settings.min_pool_size));
    target->reservePoolSize = static_cast<int>(settings.reserve_pool_size);
    if (entry.reservePoolSize) target->reservePoolSize = *entry.reservePoolSize;
    if (user && user->reservePoolSize) target->reservePoolSize = *user->reservePoolSize;
    target->reservePoolTimeout = settings.reserve_pool_timeout;
    target->maxDbConnections = entry.maxDbConnections.value_or(settings.max_db_connections);
    target->maxDbClientConnections = entry.maxDbClientConnections.value_or(settings.max_db_client_connections);
    target->maxUserConnections = settings.max_user_connections;
    if (user && user->maxUserConnections) target->maxUserConnections = *user->maxUserConnections;
    target->serverLifetime = entry.serverLifetime.value_or(settings.server_lifetime);

    target->queryTimeout = settings.query_timeout;
    target->queryWaitTimeout = entry.queryWaitTimeout.value_or(settings.query_wait_timeout);
    target->idleTransactionTimeout = settings.idle_transaction_timeout;
    target->transactionTimeout = settings.transaction_timeout;
    target->clientIdleTimeout = settings.client_idle_timeout;
    if (user) {
        target->queryTimeout = user->queryTimeout.value_or(target->queryTimeout);
        target->queryWaitTimeout = user->queryWaitTimeout.value_or(target->queryWaitTimeout);
        target->idleTransactionTimeout = user->idleTransactionTimeout.value_or(target->idleTransactionTimeout);
        target->transactionTimeout = user->transactionTimeout.value_or(target->transactionTimeout);
        target->clientIdleTimeout = user->clientIdleTimeout.value_or(target->clientIdleTimeout);
    }
    return target;
}

}  // namespace sluice::pool
