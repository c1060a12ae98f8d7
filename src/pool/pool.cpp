#include "pool/pool.h"

namespace sluice::pool {

Pool::Pool(std::string database, std::string user, std::shared_ptr<const PoolTarget> target,
           std::shared_ptr<LimitCounter> databaseServers, std::shared_ptr<LimitCounter> userServers)
    : database_(std::move(database)),
      user_(std::move(user)),
      target_(std::move(target)),
      databaseServers_(std::move(databaseServers)),
      userServers_(std::move(userServers)) {}

std::shared_ptr<const PoolTarget> Pool::target() const {
    std::lock_guard lock(mutex_);
    return target_;
}

void Pool::setTarget(std::shared_ptr<const PoolTarget> target) {
    std::lock_guard lock(mutex_);
    target_ = std::move(target);
}

Pool::Slot Pool::tryReserveServerSlot(int limit, const PoolTarget& target) {
    int current = servers_.load(std::memory_order_relaxed);
    do {
        if (current >= limit) return Slot::PoolFull;
    } while (!servers_.compare_exchange_weak(current, current + 1, std::memory_order_acq_rel));
    if (!databaseServers_->tryAcquire(target.maxDbConnections)) {
        servers_.fetch_sub(1, std::memory_order_acq_rel);
        return Slot::DatabaseFull;
    }
    if (!userServers_->tryAcquire(target.maxUserConnections)) {
        databaseServers_->release();
        servers_.fetch_sub(1, std::memory_order_acq_rel);
        return Slot::UserFull;
    }
    return Slot::Reserved;
}

void Pool::takeServerSlot() {
    servers_.fetch_add(1, std::memory_order_acq_rel);
    databaseServers_->tryAcquire(0);  // 0: no limit, always taken
    userServers_->tryAcquire(0);
}

void Pool::askForRoom(int worker, TimePoint oldestWaiter) {
    std::lock_guard lock(mutex_);
    for (auto& ask : roomAsks_)
        if (ask.first == worker) {
            ask.second = oldestWaiter;  // its longest-waiting client now
            return;
        }
    roomAsks_.emplace_back(worker, oldestWaiter);
    roomRequests_.store(static_cast<int>(roomAsks_.size()), std::memory_order_relaxed);
}

std::optional<int> Pool::takeRoomRequest(TimePoint waitingSince, int giver) {
    std::lock_guard lock(mutex_);
    auto oldest = roomAsks_.end();
    for (auto it = roomAsks_.begin(); it != roomAsks_.end(); ++it)
        if (it->first != giver && it->second < waitingSince && (oldest == roomAsks_.end() || it->second < oldest->second))
            oldest = it;
    if (oldest == roomAsks_.end()) return std::nullopt;
    const int worker = oldest->first;
    roomAsks_.erase(oldest);
    roomRequests_.store(static_cast<int>(roomAsks_.size()), std::memory_order_relaxed);
    return worker;
}

void Pool::noteLoginFailure(const Error& error) {
    std::lock_guard lock(mutex_);
    loginError_ = error;
    loginFailedAt_ = Clock::now();
    loginFailing_.store(true, std::memory_order_relaxed);
    loginFailures_.fetch_add(1, std::memory_order_relaxed);
}

void Pool::clearLoginFailure() {
    std::lock_guard lock(mutex_);
    loginError_.reset();
    loginFailing_.store(false, std::memory_order_relaxed);
}

bool Pool::retireForLifetime(TimePoint connectedAt, double lifetime, int poolSize, TimePoint now) {
    if (secondsSince(connectedAt, now) < lifetime) return false;
    const double gap = poolSize > 0 ? lifetime / poolSize : 0;
    int64_t last = lastLifetimeClose_.load(std::memory_order_relaxed);
    do {
        if (last != 0 && secondsSince(fromMonotonicNanos(last), now) < gap) return false;
    } while (!lastLifetimeClose_.compare_exchange_weak(last, monotonicNanos(now), std::memory_order_relaxed));
    return true;
}

std::optional<Error> Pool::recentLoginFailure(double seconds) const {
    if (!loginFailing_.load(std::memory_order_relaxed)) return std::nullopt;
    std::lock_guard lock(mutex_);
    if (!loginError_ || secondsSince(loginFailedAt_) >= seconds) return std::nullopt;
    return loginError_;
}

void Pool::withdrawRoomRequest(int worker) {
    std::lock_guard lock(mutex_);
    std::erase_if(roomAsks_, [worker](const auto& ask) { return ask.first == worker; });
    roomRequests_.store(static_cast<int>(roomAsks_.size()), std::memory_order_relaxed);
}

void Pool::releaseServerSlot() {
    userServers_->release();
    databaseServers_->release();
    servers_.fetch_sub(1, std::memory_order_acq_rel);
}

std::optional<std::string> Pool::normalizedValue(const std::string& name, const std::string& requested) const {
    std::lock_guard lock(mutex_);
    auto it = normalized_.find({name, requested});
    if (it == normalized_.end()) return std::nullopt;
    return it->second;
}

void Pool::rememberNormalized(const std::string& name, const std::string& requested, const std::string& reported) {
    std::lock_guard lock(mutex_);
    if (normalized_.size() < 1024) normalized_[{name, requested}] = reported;  // bounded: values come from clients
}

void Pool::rememberScramKeys(ScramPassthrough keys) {
    std::lock_guard lock(mutex_);
    scramKeys_ = std::move(keys);
}

std::optional<ScramPassthrough> Pool::scramKeys() const {
    std::lock_guard lock(mutex_);
    return scramKeys_;
}

std::shared_ptr<const ServerParams> Pool::serverDefaults() const {
    std::lock_guard lock(mutex_);
    return defaults_;
}

void Pool::setServerDefaults(const ServerParams& params) {
    std::lock_guard lock(mutex_);
    if (!defaults_) defaults_ = std::make_shared<const ServerParams>(params);  // the first login's wins
}

}  // namespace sluice::pool
