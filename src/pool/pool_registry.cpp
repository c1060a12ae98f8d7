#include "pool/pool_registry.h"

namespace sluice::pool {

std::shared_ptr<Pool> PoolRegistry::get(const std::string& database, const std::string& user,
                                        std::shared_ptr<const PoolTarget> target) {
    std::lock_guard lock(mutex_);
    auto& slot = pools_[{database, user}];
    if (!slot) slot = std::make_shared<Pool>(database, user, std::move(target));
    else slot->setTarget(std::move(target));
    return slot;
}

}  // namespace sluice::pool
