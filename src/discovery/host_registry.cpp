#include "discovery/host_registry.h"

namespace sluice::discovery {

HostList HostRegistry::hostsFor(const std::vector<config::HostAddress>& addresses, bool probed) {
    HostList list;
    bool newlyProbed = false;
    {
        std::lock_guard lock(mutex_);
        for (const auto& address : addresses) {
            auto& slot = hosts_[address];
            if (!slot) slot = std::make_shared<HostState>(address);
            if (probed) newlyProbed |= probed_.emplace(address, true).second;
            list.push_back(slot);
        }
        if (probed) clusters_.try_emplace(addresses, 0);
    }
    if (newlyProbed) requestProbe();  // the prober sleeps while it has no host to watch
    return list;
}

std::shared_ptr<HostState> HostRegistry::find(const config::HostAddress& address) const {
    std::lock_guard lock(mutex_);
    auto it = hosts_.find(address);
    return it == hosts_.end() ? nullptr : it->second;
}

HostList HostRegistry::probedHosts() const {
    std::lock_guard lock(mutex_);
    HostList list;
    for (const auto& [address, state] : hosts_)
        if (probed_.count(address)) list.push_back(state);
    return list;
}

std::vector<HostList> HostRegistry::clusters() const {
    std::lock_guard lock(mutex_);
    std::vector<HostList> list;
    for (const auto& [addresses, highest] : clusters_) {
        HostList hosts;
        for (const auto& address : addresses) hosts.push_back(hosts_.at(address));
        list.push_back(std::move(hosts));
    }
    return list;
}

bool HostRegistry::fences(const HostState& host, int64_t timeline) const {
    if (timeline <= 0) return false;
    std::lock_guard lock(mutex_);
    for (const auto& [addresses, highest] : clusters_) {
        int64_t top = highest;
        bool member = false;
        for (const auto& address : addresses) {
            member |= address == host.address();
            HostView view = hosts_.at(address)->view();
            if (view.role == Role::Primary && view.health == Health::Up) top = std::max(top, view.timeline);
        }
        if (member && timeline < top) return true;
    }
    return false;
}

HostList HostRegistry::refreshFencing() {
    std::lock_guard lock(mutex_);
    std::map<config::HostAddress, bool> fence;
    for (auto& [addresses, highest] : clusters_) {
        for (const auto& address : addresses) {
            HostView view = hosts_[address]->view();
            if (view.role == Role::Primary && view.health == Health::Up) highest = std::max(highest, view.timeline);
        }
        for (const auto& address : addresses) {
            HostView view = hosts_[address]->view();
            bool& fenced = fence[address];
            fenced = fenced || (view.role == Role::Primary && view.timeline > 0 && view.timeline < highest);
        }
    }
    HostList changed;
    for (const auto& [address, fenced] : fence)
        if (hosts_[address]->setFenced(fenced)) changed.push_back(hosts_[address]);
    return changed;
}

}  // namespace sluice::discovery
