#include "pool/pool_registry.h"

namespace sluice::pool {

std::shared_ptr<Pool> PoolRegistry::get(const std::string& database, const std::string& user,
                                        std::shared_ptr<const PoolTarget> target) {
    std::lock_guard lock(mutex_);
    auto& slot = pools_[{database, user}];
    if (!slot) {
        slot = std::make_shared<Pool>(database, user, std::move(target), counter(databaseServers_, database),
                                      counter(userServers_, user));
    } else {
        slot->setTarget(std::move(target));
    }
    return slot;
}

ClientLimits PoolRegistry::clientLimits(const std::string& database, const std::string& user) {
    std::lock_guard lock(mutex_);
    return ClientLimits(counter(databaseClients_, database), counter(userClients_, user));
}

std::shared_ptr<LimitCounter>& PoolRegistry::counter(std::map<std::string, std::shared_ptr<LimitCounter>>& map,
                                                     const std::string& key) {
    auto& entry = map[key];
    if (!entry) entry = std::make_shared<LimitCounter>();
    return entry;
}

bool PoolRegistry::registerAutoDatabase(const std::string& database) {
    std::lock_guard lock(mutex_);
    return autoDatabases_.insert(database).second;
}

}  // namespace sluice::pool
