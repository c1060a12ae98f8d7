#include "pool/pool.h"

namespace sluice::pool {

Pool::Pool(std::string database, std::string user, std::shared_ptr<const PoolTarget> target)
    : database_(std::move(database)), user_(std::move(user)), target_(std::move(target)) {}

std::shared_ptr<const PoolTarget> Pool::target() const {
    std::lock_guard lock(mutex_);
    return target_;
}

void Pool::setTarget(std::shared_ptr<const PoolTarget> target) {
    std::lock_guard lock(mutex_);
    target_ = std::move(target);
}

bool Pool::tryReserveServerSlot(int limit) {
    int current = servers_.load(std::memory_order_relaxed);
    while (current < limit) {
        if (servers_.compare_exchange_weak(current, current + 1, std::memory_order_acq_rel)) return true;
    }
    return false;
}

void Pool::releaseServerSlot() { servers_.fetch_sub(1, std::memory_order_acq_rel); }

std::optional<ServerParams> Pool::serverDefaults() const {
    std::lock_guard lock(mutex_);
    return defaults_;
}

void Pool::setServerDefaults(const ServerParams& params) {
    std::lock_guard lock(mutex_);
    defaults_ = params;
}

}  // namespace sluice::pool
