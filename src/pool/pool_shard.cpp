#include "pool/pool_shard.h"

#include <fmt/format.h>

#include "util/log.h"

namespace sluice::pool {

PoolShard::PoolShard(std::shared_ptr<Pool> pool, Launcher launcher, double loginRetrySeconds, bool roundRobin)
    : pool_(std::move(pool)),
      target_(pool_->target()),
      launcher_(std::move(launcher)),
      loginRetrySeconds_(loginRetrySeconds),
      loginFailuresSeen_(pool_->loginFailureCount()),
      roundRobin_(roundRobin) {}

void PoolShard::refreshTarget() {
    auto fresh = pool_->target();
    if (fresh == target_) return;
    if (!sameServer(*fresh, *target_)) serverSettingsChanged();
    target_ = std::move(fresh);
    hostsVersion_ = 0;
}

void PoolShard::serverSettingsChanged() {
    reconnect();
    pool_->noteLoginSuccess();  // clears the failure
}

void PoolShard::refreshHosts() {
    const auto& hosts = target_->hostStates;
    uint64_t version = 0;
    for (const auto& host : hosts) version += host->version();
    // Health also changes with time (a host down for server_login_retry becomes worth a try).
    const TimePoint now = Clock::now();
    if (version == hostsVersion_ && secondsSince(hostsCheckedAt_, now) < 0.2) return;
    hostsVersion_ = version;
    hostsCheckedAt_ = now;
    hostUsable_.assign(hosts.size(), 0);
    discovery::ChoiceLimits limits{target_->maxStandbyLag};
    for (size_t i = 0; i < hosts.size(); ++i)
        hostUsable_[i] = discovery::stillUsable(target_->sessionAttrs, hosts[i]->view(now), limits);
}

std::optional<size_t> PoolShard::chooseHost() {
    const auto& hosts = target_->hostStates;
    if (hosts.size() <= 1 && !target_->multiHost()) {
        // Nothing to choose, but a host whose connect was just refused or timed out is not tried
        // again before server_login_retry (as PgBouncer paces it): clients wait, the sweep
        // launches again once the time is up, and a dead server is not hammered in a loop.
        waitingForHost_ = false;
        if (!hosts.empty() && hosts[0]->view().health == discovery::Health::Down) return std::nullopt;
        return 0;
    }
    std::vector<discovery::HostView> views;
    views.reserve(hosts.size());
    const TimePoint now = Clock::now();
    for (const auto& host : hosts) views.push_back(host->view(now));
    discovery::ChoiceLimits limits{target_->maxStandbyLag};
    auto chosen = discovery::chooseHost(views, target_->sessionAttrs, target_->loadBalance, limits, hostCursor_,
                                        static_cast<uint64_t>(now.time_since_epoch().count()) >> 10);
    waitingForHost_ = !chosen;
    return chosen;
}

void PoolShard::setOptions(double loginRetrySeconds, bool roundRobin) {
    loginRetrySeconds_ = loginRetrySeconds;
    roundRobin_ = roundRobin;
}

void PoolShard::resume() {
    paused_ = false;
    while (!waiting_.empty() && !idle_.empty()) {
        PooledServer* server = roundRobin_ ? idle_.front() : idle_.back();
        PoolWaiter* client = waiting_.popFront();
        active_.pushBack(*server);
        client->onServerAvailable(*server);
    }
    if (waiting_.empty()) noLongerWaiting();
    launchIfNeeded();
}

Acquired PoolShard::acquire(PoolWaiter& client) {
    if (paused_) {
        client.waitingSince = Clock::now();
        waiting_.pushBack(client);
        return {};
    }
    if (!idle_.empty()) {
        // LIFO keeps few servers warm and lets the rest reach server_idle_timeout; round robin
        // spreads load evenly (server_round_robin), as in PgBouncer.
        PooledServer* server = roundRobin_ ? idle_.front() : idle_.back();
        active_.pushBack(*server);
        return {server, std::nullopt};
    }
    // As PgBouncer's fast fail: while the last login failed less than server_login_retry ago
    // and the pool has no server at all, a new client is refused at once with that error.
    if (pool_->serverCount() == 0)
        if (auto failing = pool_->recentLoginFailure(loginRetrySeconds_))
            return {nullptr, Error{fmt::format("server login has been failing, cached error: {} (server_login_retry)",
                                               failing->message),
                                   "08P01", failing->detail}};
    client.waitingSince = Clock::now();
    waiting_.pushBack(client);
    launchIfNeeded();
    return {};
}

void PoolShard::cancelWait(PoolWaiter& client) {
    waiting_.remove(client);
    if (waiting_.empty()) noLongerWaiting();
}

TimePoint PoolShard::oldestWait() const {
    const PoolWaiter* oldest = waiting_.front();
    return oldest ? oldest->waitingSince : Clock::now();
}

void PoolShard::askOtherWorkers() {
    if (askedForRoom_ || !askForRoom_ || waiting_.empty()) return;
    askedForRoom_ = true;
    pool_->askForRoom(workerOf_, oldestWait());
    askForRoom_(*this);
}

void PoolShard::noLongerWaiting() {
    if (!askedForRoom_) return;
    askedForRoom_ = false;
    pool_->withdrawRoomRequest(workerOf_);
}

void PoolShard::roomGiven() {
    askedForRoom_ = false;
    // The slot came with the gift: used for a server if a client still needs one, else given back.
    if (!paused_ && wantsMoreServers()) {
        const size_t before = login_.size();
        launcher_(*this);
        if (login_.size() != before) {
            launchIfNeeded();  // more clients waiting: ask again
            return;
        }
    }
    pool_->releaseServerSlot();
}

void PoolShard::offerIdleServer() {
    if (idle_.empty() || !giveRoom_) return;
    giveRoom_(*this, *idle_.front(), Clock::now());
}

void PoolShard::serverReady(PooledServer& server) {
    pool_->noteLoginSuccess();
    if (!lastConnectFailure_.empty()) lastConnectFailure_.clear();
    // Also when it goes straight to a queued client: server_check_delay counts from the last
    // use, so a server in constant use is never checked.
    server.idleSince = Clock::now();
    // Another worker's client waited longer than any of ours — by more than the fairness bound
    // when ours wait too: the server's slot goes there.
    if (giveRoom_ && pool_->roomWanted() &&
        giveRoom_(*this, server, waiting_.empty() ? Clock::now() : oldestWait() - kGiveAwayFairness))
        return;
    if (PoolWaiter* client = paused_ ? nullptr : waiting_.popFront()) {
        if (waiting_.empty()) noLongerWaiting();
        active_.pushBack(server);
        client->onServerAvailable(server);
        return;
    }
    idle_.pushBack(server);
}

void PoolShard::serverGone(PooledServer& server) {
    if (!server.poolHook().linked()) return;
    static_cast<IntrusiveList<PooledServer, PoolHook>*>(server.poolHook().list)->remove(server);
    if (server.slotGivenAway) return;  // another worker opens a server in its place
    pool_->releaseServerSlot();
    launchIfNeeded();
}

void PoolShard::serverLoginFailed(PooledServer& server, const Error& error) {
    // A login begun for the target a reload replaced says nothing about the new one: noted, it
    // would refuse every client for server_login_retry though the configuration is fixed (on
    // another worker, refreshTarget has already cleared the old failure).
    if (isCurrentGeneration(server)) {
        pool_->noteLoginFailure(error);
        loginFailuresSeen_ = pool_->loginFailureCount();
    }
    if (server.poolHook().linked()) {
        static_cast<IntrusiveList<PooledServer, PoolHook>*>(server.poolHook().list)->remove(server);
        pool_->releaseServerSlot();
    }
    failWaitersBeyondLogins(error);
}

void PoolShard::failWaitersBeyondLogins(const Error& error) {
    while (waiting_.size() > login_.size()) {
        PoolWaiter* client = waiting_.popFront();
        client->onServerUnavailable(error);
    }
    if (waiting_.empty()) noLongerWaiting();
}

bool PoolShard::preferredHost(const PooledServer& server) const {
    if (target_->sessionAttrs != discovery::SessionAttrs::PreferStandby) return true;
    const auto& hosts = target_->hostStates;
    if (server.hostIndex >= hosts.size() || hosts[server.hostIndex]->view().role != discovery::Role::Primary) return true;
    for (size_t i = 0; i < hosts.size(); ++i) {
        if (i == server.hostIndex) continue;
        const auto view = hosts[i]->view();
        if (view.health != discovery::Health::Down && !view.fenced && view.role != discovery::Role::Primary)
            return false;  // a standby, or a host that may be one: try it first
    }
    return true;
}

bool PoolShard::empty() const {
    return waiting_.empty() && login_.empty() && idle_.empty() && active_.empty() && used_.empty();
}

void PoolShard::launchIfNeeded(int limit) {
    if (paused_) return;
    if (limit < 0) limit = target_->poolSize;
    // One connection in progress per waiting client at most, within the limit.
    while (wantsMoreServers() && launchOne(limit)) {
    }
}

bool PoolShard::launchOne(int limit, bool evictIfNeeded) {
    auto slot = pool_->tryReserveServerSlot(limit, *target_);
    if ((slot == Pool::Slot::DatabaseFull || slot == Pool::Slot::UserFull) && evictIfNeeded && makeRoom_ &&
        makeRoom_(*this, slot == Pool::Slot::DatabaseFull)) {
        // As PgBouncer: an idle server of another pool of the database (or user) gave its slot
        // back, so that this pool's clients do not starve while it idles.
        slot = pool_->tryReserveServerSlot(limit, *target_);
    }
    if (slot != Pool::Slot::Reserved) {
        // The pool's own servers may idle on other workers, whichever limit is full (pool_size,
        // or max_db/max_user_connections with no other pool's server to evict): ask for one.
        askOtherWorkers();
        return false;
    }
    size_t before = login_.size();
    launcher_(*this);
    if (login_.size() == before) {  // the launcher could not start one; don't spin
        pool_->releaseServerSlot();
        return false;
    }
    return true;
}

// Each server opened beyond pool_size is logged as PgBouncer logs it, naming the client that
// waited reserve_pool_timeout: operators grep for it to learn that the pool is too small.
void PoolShard::useReservePool(const PoolWaiter& oldest) {
    const int limit = target_->poolSize + target_->reservePoolSize;
    while (wantsMoreServers()) {
        const bool beyondPoolSize = pool_->serverCount() >= target_->poolSize;
        if (!launchOne(limit)) return;
        if (beyondPoolSize) SLOG_WARN("{} taking connection from reserve_pool", oldest.describe());
    }
}

bool PoolShard::loginRetryPending() const {
    return pool_->recentLoginFailure(loginRetrySeconds_).has_value();
}

void PoolShard::fillMinimum() {
    if (paused_ || loginRetryPending()) return;
    // As PgBouncer: min_pool_size for a pool in use (or a forced user's, used by every client),
    // never by evicting another pool's server under max_db/max_user_connections: two pools
    // filling their minimums would take each other's servers at every sweep.
    if (pool_->clientCount() == 0 && !target_->forcedUser) return;
    while (pool_->serverCount() < target_->minPoolSize && launchOne(target_->minPoolSize, false)) {
    }
}

void PoolShard::maintain(TimePoint now) {
    // As PgBouncer: a failed server login fails every client waiting for the pool, on every
    // worker (here at the next sweep), rather than letting them wait out server_login_retry.
    if (const uint64_t failures = pool_->loginFailureCount(); failures != loginFailuresSeen_) {
        loginFailuresSeen_ = failures;
        if (auto error = pool_->recentLoginFailure(loginRetrySeconds_)) failWaitersBeyondLogins(*error);
    }
    if (paused_ || loginRetryPending()) return;
    PoolWaiter* oldest = waiting_.front();
    if (oldest && target_->reservePoolSize > 0 && secondsSince(oldest->waitingSince, now) >= target_->reservePoolTimeout)
        useReservePool(*oldest);
    // A slot freed in another pool under the same max_db/max_user_connections: try again. An
    // ask for room no other worker could answer yet stands, dated by the client now waiting
    // longest here, and the others hear of it again.
    if (!waiting_.empty()) {
        launchIfNeeded();
        if (askedForRoom_) {
            pool_->askForRoom(workerOf_, oldestWait());
            askForRoom_(*this);
        }
    }
}
}  // namespace sluice::pool
