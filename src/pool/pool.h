// A Pool is one (database, user) pair, shared by every worker (DESIGN §3): it holds what all
// workers must agree on — the count of server connections against the pool's limits and the
// parameters servers report at login. Each worker serves it through its own PoolShard.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "pool/pool_target.h"
#include "pool/server_params.h"

namespace sluice::pool {

class Pool {
public:
    Pool(std::string database, std::string user, std::shared_ptr<const PoolTarget> target);

    const std::string& database() const { return database_; }
    const std::string& user() const { return user_; }

    // Read at login and on reload only; the hot path uses the copy its PoolShard holds.
    std::shared_ptr<const PoolTarget> target() const;
    void setTarget(std::shared_ptr<const PoolTarget> target);

    // A slot for one more server connection, if the pool size allows it.
    bool tryReserveServerSlot(int limit);
    void releaseServerSlot();
    int serverCount() const { return servers_.load(std::memory_order_relaxed); }

    // What the first server to log in reported: the base of each client's welcome message.
    std::optional<ServerParams> serverDefaults() const;
    void setServerDefaults(const ServerParams& params);

private:
    const std::string database_;
    const std::string user_;
    mutable std::mutex mutex_;  // guards target_ and defaults_
    std::shared_ptr<const PoolTarget> target_;
    std::optional<ServerParams> defaults_;
    std::atomic<int> servers_{0};
};

}  // namespace sluice::pool
