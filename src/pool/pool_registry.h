// Every Pool of the process, by (database, user); shared by all workers, consulted at login and
// reload only, so a mutex is fine here.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "discovery/host_registry.h"
#include "pool/pool.h"

namespace sluice::pool {

class PoolRegistry {
public:
    // The pool for the key; made with `target` on first use, else its target is refreshed to it.
    std::shared_ptr<Pool> get(const std::string& database, const std::string& user,
                              std::shared_ptr<const PoolTarget> target);

    // The client counters of `database` and `user`, for a client that has no pool (the console).
    ClientLimits clientLimits(const std::string& database, const std::string& user);

    // The hosts of every multi-host database (DESIGN §9).
    discovery::HostRegistry& hosts() { return hosts_; }
    const discovery::HostRegistry& hosts() const { return hosts_; }

    template <class Fn>
    void forEach(Fn&& fn) {
        std::lock_guard lock(mutex_);
        for (auto& [key, pool] : pools_) fn(*pool);
    }

    // A database reached through the "*" entry: true the first time its name is seen (PgBouncer's
    // "registered new auto-database"), false ever after.
    bool registerAutoDatabase(const std::string& database);

private:
    std::shared_ptr<LimitCounter>& counter(std::map<std::string, std::shared_ptr<LimitCounter>>& map,
                                           const std::string& key);

    discovery::HostRegistry hosts_;
    std::mutex mutex_;
    // Limits that span pools: per database and per user, for servers and for clients.
    std::map<std::string, std::shared_ptr<LimitCounter>> databaseServers_, userServers_, databaseClients_,
        userClients_;
    std::map<std::pair<std::string, std::string>, std::shared_ptr<Pool>> pools_;
    std::set<std::string> autoDatabases_;
};

}  // namespace sluice::pool
