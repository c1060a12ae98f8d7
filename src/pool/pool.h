// A Pool is one (database, user) pair, shared by every worker (DESIGN §3): it holds what all
// workers must agree on — the count of server connections against the pool's limits and the
// parameters servers report at login. Each worker serves it through its own PoolShard.
#pragma once

#include <atomic>
#include <map>
#include <string_view>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>
#include <string>

#include "auth/scram_keys.h"
#include "util/clock.h"
#include "pool/limit_counter.h"
#include "pool/pool_target.h"
#include "pool/server_params.h"
#include "util/result.h"

namespace sluice::pool {

// SCRAM pass-through: what a client proved when it logged in by SCRAM against a stored secret,
// enough for the pooler to log in to PostgreSQL as that user without knowing the password.
struct ScramPassthrough {
    auth::ScramKey clientKey{};
    auth::ScramKey serverKey{};
    std::string salt;
    int iterations = 0;
};

class Pool {
public:
    Pool(std::string database, std::string user, std::shared_ptr<const PoolTarget> target,
         std::shared_ptr<LimitCounter> databaseServers, std::shared_ptr<LimitCounter> userServers);

    const std::string& database() const { return database_; }
    const std::string& user() const { return user_; }

    // Read at login and on reload only; the hot path uses the copy its PoolShard holds.
    std::shared_ptr<const PoolTarget> target() const;
    void setTarget(std::shared_ptr<const PoolTarget> target);

    // A slot for one more server connection, if the pool size (`limit`), max_db_connections and
    // max_user_connections of `target` all allow it; else which of them is full.
    enum class Slot { Reserved, PoolFull, DatabaseFull, UserFull };
    Slot tryReserveServerSlot(int limit, const PoolTarget& target);
    void releaseServerSlot();
    // A server that came with its slot from elsewhere (the online restart's session servers):
    // counted whatever the limits say, as it exists already.
    void takeServerSlot();

    // A client of this pool came or left (admitted under its limits: Connections::admitClient).
    void clientArrived() { clients_.fetch_add(1, std::memory_order_relaxed); }
    void clientLeft() { clients_.fetch_sub(1, std::memory_order_relaxed); }
    int64_t clientCount() const { return clients_.load(std::memory_order_relaxed); }

    // What a server reports after the pooler SET a parameter to a value ("ISO" → "ISO, MDY"),
    // so that a welcome message can tell the truth without asking a server.
    std::optional<std::string> normalizedValue(const std::string& name, const std::string& requested) const;
    void rememberNormalized(const std::string& name, const std::string& requested, const std::string& reported);
    int serverCount() const { return servers_.load(std::memory_order_relaxed); }

    // Room between workers (DESIGN §3). A worker whose clients wait while the pool is full asks,
    // with when its longest-waiting client started waiting; a worker with a server to spare (one
    // just released, or idle) takes the oldest ask older than its own longest wait and gives its
    // server's slot to that worker (withdrawRoomRequest when its clients no longer wait).
    void askForRoom(int worker, TimePoint oldestWaiter);
    std::optional<int> takeRoomRequest(TimePoint waitingSince, int giver);
    void withdrawRoomRequest(int worker);
    bool roomWanted() const { return roomRequests_.load(std::memory_order_relaxed) > 0; }

    // The last server login failure of this pool, on whichever worker (PgBouncer's fast fail:
    // while it is younger than server_login_retry and the pool has no server, a client is
    // refused at once with it). A login that succeeds clears it.
    void noteLoginFailure(const Error& error);
    void noteLoginSuccess() {
        if (loginFailing_.load(std::memory_order_relaxed)) clearLoginFailure();
    }
    std::optional<Error> recentLoginFailure(double seconds) const;
    // How many failures were noted so far: a worker that sees it move fails its own waiters too.
    uint64_t loginFailureCount() const { return loginFailures_.load(std::memory_order_relaxed); }

    // Whether a server connected at `connectedAt` closes now for server_lifetime, as PgBouncer
    // decides: once it is that old, and at most one server per lifetime / pool size, so that a
    // pool whose servers all opened together does not close (and reopen) them all at once. A
    // lifetime of 0 closes every server after one use. True means the caller closes it.
    bool retireForLifetime(TimePoint connectedAt, double lifetime, int poolSize, TimePoint now);

    // The keys of the latest client that proved them (see ScramPassthrough).
    void rememberScramKeys(ScramPassthrough keys);
    std::optional<ScramPassthrough> scramKeys() const;

    // What the first server to log in reported: the base of each client's welcome message.
    // Set once, by the first login; read through PoolShard::serverDefaults() on the hot path.
    std::shared_ptr<const ServerParams> serverDefaults() const;
    void setServerDefaults(const ServerParams& params);

private:
    const std::string database_;
    const std::string user_;
    mutable std::mutex mutex_;  // guards target_, defaults_, scramKeys_ (login-time only), roomAsks_, loginError_
    std::shared_ptr<const PoolTarget> target_;
    std::shared_ptr<const ServerParams> defaults_;
    std::optional<ScramPassthrough> scramKeys_;
    std::map<std::pair<std::string, std::string>, std::string> normalized_;
    void clearLoginFailure();

    std::atomic<int> servers_{0};
    std::vector<std::pair<int, TimePoint>> roomAsks_;  // worker, its oldest waiter; under mutex_
    std::optional<Error> loginError_;                  // under mutex_
    TimePoint loginFailedAt_{};                        // under mutex_
    // Read at every release on every worker: a cache line of their own, so that the counters
    // written at each login and logout (clients_, servers_) do not turn those reads into misses.
    alignas(64) std::atomic<bool> loginFailing_{false};  // loginError_ is set; read without the lock
    std::atomic<uint64_t> loginFailures_{0};
    std::atomic<int> roomRequests_{0};                   // roomAsks_.size(), read without the lock
    std::atomic<int64_t> lastLifetimeClose_{0};          // monotonicNanos of the last retireForLifetime
    alignas(64) std::atomic<int64_t> clients_{0};
    std::shared_ptr<LimitCounter> databaseServers_, userServers_;
};

}  // namespace sluice::pool
