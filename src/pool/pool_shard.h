// One worker's part of a Pool (DESIGN §3): its servers and its waiting clients, touched only by
// that worker's thread, so acquiring an idle server takes no lock. A server's state is the list
// it is on (login, idle, active, used), as in PgBouncer, so SHOW POOLS counts are list sizes.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pool/pool.h"
#include "pool/pool_stats.h"
#include "util/clock.h"
#include "util/intrusive_list.h"
#include "util/result.h"

namespace sluice::pool {

// On one of its shard's lists (login, idle, active, used); a waiting client on its wait list.
struct PoolHook : ListHook {};
struct WaitHook : ListHook {};

// The part of a server connection the shard manages.
class PooledServer : public PoolHook {
public:
    virtual ~PooledServer() = default;
    ListHook& poolHook() { return *this; }
    const ListHook& poolHook() const { return *this; }
    // When a client last gave it back (or its login finished), whether it then rested or went
    // straight to a queued client: server_check_delay and server_idle_timeout count from here.
    TimePoint idleSince{};
    uint64_t generation = 0;  // the shard's target generation it was opened for
    size_t hostIndex = 0;     // which host of the target's list it is connected to
    bool slotGivenAway = false;  // closing so that another worker opens one in its place
};

// The part of a client connection that can wait for a server.
class PoolWaiter : public WaitHook {
public:
    virtual ~PoolWaiter() = default;
    // The shard hands the client a server (already on the active list).
    virtual void onServerAvailable(PooledServer& server) = 0;
    // No server could be had (login to the server failed); the client should report `error`.
    virtual void onServerUnavailable(const Error& error) = 0;
    // The client as the log names it ("C-12: db/user@addr:port").
    virtual std::string describe() const = 0;

    TimePoint waitingSince{};
};

struct Acquired {
    PooledServer* server = nullptr;    // given at once
    std::optional<Error> error;        // refused at once (server login failing, server_login_retry)
    bool queued() const { return server == nullptr && !error; }
};

// A server released while this worker's clients wait goes to another worker's client only if
// that one has waited this much longer than our oldest: a gift costs a server login (DESIGN §3),
// and between workers whose clients all wait, swapping servers would spend logins, not queries.
inline constexpr std::chrono::milliseconds kGiveAwayFairness{100};

class PoolShard {
public:
    using Launcher = std::function<void(PoolShard&)>;
    // max_db_connections or max_user_connections is full (`databaseLimit` says which): close an
    // idle server of another pool that holds one of those slots; true when one was closed.
    using RoomMaker = std::function<bool(PoolShard& asking, bool databaseLimit)>;
    void setRoomMaker(RoomMaker makeRoom) { makeRoom_ = std::move(makeRoom); }
    // Several workers (DESIGN §3): the pool is full and this worker's clients wait: the ask is
    // in the Pool; tell the other workers (an idle server there is given at once).
    using RoomAsker = std::function<void(PoolShard& asking)>;
    // A server this worker can spare (just released, or idle) goes to the worker that asked,
    // if its client waited longer than `waitingSince`: the server is closed, its slot given on
    // (slotGivenAway); true when it was.
    using RoomGiver = std::function<bool(PoolShard& giving, PooledServer& server, TimePoint waitingSince)>;
    void setRoomSharing(int worker, RoomAsker ask, RoomGiver give) {
        workerOf_ = worker;
        askForRoom_ = std::move(ask);
        giveRoom_ = std::move(give);
    }
    // Another worker closed a server so that this one opens one: its slot is ours.
    void roomGiven();
    // Another worker handed over a server, slot and all (PoolShard's slot count is the Pool's):
    // counted here until serverReady() or serverGone().
    void serverHandedIn(PooledServer& server) {
        askedForRoom_ = false;
        server.generation = generation_;
        used_.pushBack(server);
    }
    // A server that arrived linked to its client (the online restart's sessions): in use.
    void serverArrivedInUse(PooledServer& server) {
        server.generation = generation_;
        active_.pushBack(server);
    }
    // Another worker asks for room: an idle server here goes to it.
    void offerIdleServer();

    PoolShard(std::shared_ptr<Pool> pool, Launcher launcher, double loginRetrySeconds, bool roundRobin);

    Pool& pool() { return *pool_; }
    // The pool's server defaults, cached on this worker once known (they never change), so the
    // hot path takes no lock; null before the first server login.
    const ServerParams* serverDefaults() {
        if (!defaults_) defaults_ = pool_->serverDefaults();
        return defaults_.get();
    }
    const std::shared_ptr<Pool>& sharedPool() const { return pool_; }
    const PoolTarget& target() const { return *target_; }
    void refreshTarget();
    // A server opened for an older target (the database entry changed on reload), or on a host
    // that no longer serves the pool (a multi-host failover), is not reused.
    bool isCurrentGeneration(const PooledServer& server) const { return server.generation == generation_; }
    bool isCurrent(const PooledServer& server) {
        if (server.generation != generation_) return false;
        if (!target_->multiHost()) return true;
        refreshHosts();
        return server.hostIndex < hostUsable_.size() && hostUsable_[server.hostIndex];
    }
    // Multi-host: the host a new server connection should go to (DESIGN §9), or nullopt when
    // none qualifies now; clients then wait until one does (hostsChanged()).
    std::optional<size_t> chooseHost();
    // prefer-standby: a primary found at login is used only when no other host may be a standby.
    bool preferredHost(const PooledServer& server) const;
    // True while clients wait because no host qualifies (no primary for a read-write entry…).
    bool waitingForHost() const { return waitingForHost_; }
    // Why the last server connection could not be made, for the error of a client whose wait
    // ends (query_wait_timeout); cleared by a successful login.
    void noteConnectFailure(std::string why) { lastConnectFailure_ = std::move(why); }
    const std::string& lastConnectFailure() const { return lastConnectFailure_; }
    // Host roles or health changed: re-decide which servers may stay, then serve waiting clients.
    // The servers that must go (idle ones on a host that no longer serves the pool) are given to
    // `closeIdle`.
    template <class Fn>
    void hostsChanged(Fn&& closeIdle) {
        if (!target_->multiHost()) return;
        hostsVersion_ = 0;  // force a refresh
        refreshHosts();
        std::vector<PooledServer*> gone;
        idle_.forEach([&](PooledServer& server) {
            if (!isCurrent(server)) gone.push_back(&server);
        });
        for (PooledServer* server : gone) closeIdle(*server);
        launchIfNeeded();
    }
    void setOptions(double loginRetrySeconds, bool roundRobin);

    // PAUSE: clients queue and no server is handed out or opened until resume().
    void pause() { paused_ = true; }
    void resume();
    bool paused() const { return paused_; }

    Acquired acquire(PoolWaiter& client);
    void cancelWait(PoolWaiter& client);

    // The shard's view of a server's life.
    void serverLaunched(PooledServer& server) {
        server.generation = generation_;
        login_.pushBack(server);
    }
    void serverBusy(PooledServer& server) { used_.pushBack(server); }  // reset/check query running
    void serverReady(PooledServer& server);                            // to the next waiter, or idle
    void serverGone(PooledServer& server);                             // closing; frees its slot
    void serverLoginFailed(PooledServer& server, const Error& error);  // the failure reaches waiters

    // Idle servers, oldest first (for timeouts and checks).
    template <class Fn>
    void forEachIdle(Fn&& fn) { idle_.forEach(std::forward<Fn>(fn)); }
    template <class Fn>
    void forEachWaiting(Fn&& fn) { waiting_.forEach(std::forward<Fn>(fn)); }
    template <class Fn>
    void forEachWaiting(Fn&& fn) const { waiting_.forEach(std::forward<Fn>(fn)); }

    // Periodic upkeep (the worker's sweep): opens reserve servers for clients that waited longer
    // than reserve_pool_timeout, and servers for waiting clients a limit held back.
    void maintain(TimePoint now);
    // Keeps min_pool_size servers open, with free slots only. The sweep calls it after every
    // shard's maintain(): a slot freed for a waiting client (an eviction) goes to that client,
    // not to another pool's minimum.
    void fillMinimum();

    size_t waitingCount() const { return waiting_.size(); }
    size_t idleCount() const { return idle_.size(); }
    PooledServer* oldestIdle() const { return idle_.front(); }
    size_t activeCount() const { return active_.size(); }
    size_t loginCount() const { return login_.size(); }
    size_t usedCount() const { return used_.size(); }
    bool isActive(const PooledServer& server) const { return active_.contains(server); }
    bool isIdle(const PooledServer& server) const { return idle_.contains(server); }
    bool empty() const;

    // Counted by this worker's connections; read by the admin console through the worker.
    PoolStats stats;
    // RECONNECT: servers open now are replaced once their clients release them.
    void reconnect() { ++generation_; }
    // How the pooler reaches the servers changed (host, port, TLS settings): servers open now are
    // replaced as after RECONNECT, and a cached login failure, the old settings', is forgotten:
    // the new ones get their own try at once.
    void serverSettingsChanged();

private:
    void launchIfNeeded(int limit = -1);
    // Waiting clients outnumber the servers on their way to them.
    bool wantsMoreServers() const { return waiting_.size() > login_.size() + used_.size(); }
    bool launchOne(int limit, bool evictIfNeeded = true);
    void useReservePool(const PoolWaiter& oldest);
    bool loginRetryPending() const;
    // Waiters beyond what the logins in progress can serve get `error` instead of hanging.
    void failWaitersBeyondLogins(const Error& error);
    void refreshHosts();

    std::shared_ptr<Pool> pool_;
    std::shared_ptr<const PoolTarget> target_;
    std::shared_ptr<const ServerParams> defaults_;
    uint64_t generation_ = 0;
    Launcher launcher_;
    RoomMaker makeRoom_;
    RoomAsker askForRoom_;
    RoomGiver giveRoom_;
    int workerOf_ = 0;
    bool askedForRoom_ = false;  // an ask of ours is in the Pool
    // Clients wait at the pool's limit: ask the other workers, once until answered or withdrawn.
    void askOtherWorkers();
    // No client waits any more: an ask of ours is withdrawn.
    void noLongerWaiting();
    // When this worker's longest-waiting client started waiting (now, when none waits).
    TimePoint oldestWait() const;
    double loginRetrySeconds_;
    uint64_t loginFailuresSeen_;  // Pool::loginFailureCount() as of this shard's last look
    bool roundRobin_;
    bool paused_ = false;
    // Multi-host: which hosts may keep servers, as of the hosts' summed versions.
    std::vector<char> hostUsable_;
    uint64_t hostsVersion_ = 0;
    TimePoint hostsCheckedAt_{};
    uint64_t hostCursor_ = 0;
    bool waitingForHost_ = false;
    std::string lastConnectFailure_;

    IntrusiveList<PoolWaiter, WaitHook> waiting_;
    IntrusiveList<PooledServer, PoolHook> login_;
    IntrusiveList<PooledServer, PoolHook> idle_;
    IntrusiveList<PooledServer, PoolHook> active_;
    IntrusiveList<PooledServer, PoolHook> used_;
};

}  // namespace sluice::pool
