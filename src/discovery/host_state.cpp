#include "discovery/host_state.h"

#include <fmt/format.h>

namespace sluice::discovery {

std::string_view roleName(Role role) {
    switch (role) {
        case Role::Primary: return "primary";
        case Role::Standby: return "standby";
        case Role::Unknown: break;
    }
    return "unknown";
}

std::string HostState::describe() const {
    if (!address_.host.empty() && address_.host[0] == '/')
        return fmt::format("{}/.s.PGSQL.{}", address_.host, address_.port);
    return fmt::format("{}:{}", address_.host, address_.port);
}

bool HostState::markUp(Role role, bool readOnly, bool fenced) {
    const bool change = role != role_ || readOnly != readOnly_ || !up_ || fenced != fenced_;
    role_ = role;
    readOnly_ = readOnly;
    fenced_ = fenced;
    up_ = true;
    downUntil_ = {};
    failingSince_ = {};
    if (change) changed();
    return change;
}

bool HostState::reportRole(Role role, bool readOnly) {
    std::lock_guard lock(mutex_);
    return markUp(role, readOnly, fenced_);  // a login says nothing of timelines: fencing stays
}

bool HostState::reportProbe(Role role, bool readOnly, int64_t timeline, double lagSeconds, double latencySeconds,
                            bool fenced) {
    std::lock_guard lock(mutex_);
    const bool change = markUp(role, readOnly, fenced);
    timeline_ = timeline;
    lagSeconds_ = lagSeconds;
    lastProbe_ = Clock::now();
    probeLatency_ = latencySeconds;
    return change;
}

bool HostState::reportFailure(double retryAfter) {
    std::lock_guard lock(mutex_);
    const TimePoint now = Clock::now();
    const bool wasUp = up_ || role_ != Role::Unknown;
    if (failingSince_ == TimePoint{}) {
        failingSince_ = now;
        roleBeforeFailure_ = role_;
    }
    up_ = false;
    role_ = Role::Unknown;  // a host that comes back may have changed role (a restarted standby…)
    downUntil_ = now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(retryAfter));
    lastProbe_ = now;
    if (wasUp) changed();
    return wasUp;
}

bool HostState::setFenced(bool fenced) {
    std::lock_guard lock(mutex_);
    if (fenced_ == fenced) return false;
    fenced_ = fenced;
    changed();
    return true;
}

void HostState::setProbing(bool probing) {
    std::lock_guard lock(mutex_);
    probing_ = probing;
}

HostView HostState::view(TimePoint now) const {
    std::lock_guard lock(mutex_);
    HostView view;
    view.role = role_;
    view.readOnly = readOnly_;
    view.fenced = fenced_;
    view.timeline = timeline_;
    view.lagSeconds = lagSeconds_;
    view.probing = probing_;
    view.lastProbe = lastProbe_;
    view.probeLatencySeconds = probeLatency_;
    if (up_) view.health = Health::Up;
    else if (now < downUntil_) view.health = Health::Down;
    else view.health = Health::Unknown;  // down a while ago: worth another try
    view.serversOpen = serversOpen_.load(std::memory_order_relaxed);
    view.failingSince = failingSince_;
    view.roleBeforeFailure = roleBeforeFailure_;
    return view;
}

TimePoint HostState::failingSince() const {
    std::lock_guard lock(mutex_);
    return failingSince_;
}

}  // namespace sluice::discovery
