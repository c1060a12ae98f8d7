// Every host of every multi-host database, by host:port (DESIGN §9): entries that list the same
// host share its HostState, so it is probed once and what one worker learns of it every worker
// sees. Process-wide; pools ask it for their hosts at login and reload, the prober walks it.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "discovery/host_state.h"

namespace sluice::discovery {

using HostList = std::vector<std::shared_ptr<HostState>>;

class HostRegistry {
public:
    // The states of these hosts, in the same order; made on first use. `probed` marks them as
    // hosts whose role matters (a multi-host entry, or target_session_attrs other than any).
    HostList hostsFor(const std::vector<config::HostAddress>& addresses, bool probed);

    // The state of a host, if an entry listing it has been used.
    std::shared_ptr<HostState> find(const config::HostAddress& address) const;

    // Hosts the prober should watch.
    HostList probedHosts() const;
    // Each probed host list (a cluster: the hosts of one multi-host entry), in order.
    std::vector<HostList> clusters() const;

    // Something that may change a host's role was seen (a connection lost, a login refused):
    // the prober looks at once instead of at its next interval. Any thread.
    void requestProbe() const {
        if (probeWanted_) probeWanted_();
    }
    void onProbeWanted(std::function<void()> wake) { probeWanted_ = std::move(wake); }

    // The split-brain guard: within one host list (one cluster), a host that claims to be
    // primary on a lower timeline than the highest a primary of that list has ever shown is
    // fenced: no server connection goes there until it is a standby or on that timeline.
    // Returns the hosts whose fencing changed.
    HostList refreshFencing();
    // Whether a host that answers as primary on `timeline` is to be fenced now (the rule above).
    bool fences(const HostState& host, int64_t timeline) const;

private:
    mutable std::mutex mutex_;
    std::map<config::HostAddress, std::shared_ptr<HostState>> hosts_;
    std::map<config::HostAddress, bool> probed_;
    // Each probed host list (a cluster) and the highest primary timeline seen in it.
    std::map<std::vector<config::HostAddress>, int64_t> clusters_;
    std::function<void()> probeWanted_;  // set once before the workers start
};

}  // namespace sluice::discovery
