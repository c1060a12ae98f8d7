#include "discovery/host_choice.h"

namespace sluice::discovery {

SessionAttrs parseSessionAttrs(std::string_view text) {
    if (text == "read-write") return SessionAttrs::ReadWrite;
    if (text == "read-only") return SessionAttrs::ReadOnly;
    if (text == "primary") return SessionAttrs::Primary;
    if (text == "standby") return SessionAttrs::Standby;
    if (text == "prefer-standby") return SessionAttrs::PreferStandby;
    return SessionAttrs::Any;
}

LoadBalance parseLoadBalance(std::string_view text) {
    if (text == "disable") return LoadBalance::Disable;
    if (text == "random") return LoadBalance::Random;
    return LoadBalance::RoundRobin;
}

std::string_view sessionAttrsName(SessionAttrs attrs) {
    switch (attrs) {
        case SessionAttrs::ReadWrite: return "read-write";
        case SessionAttrs::ReadOnly: return "read-only";
        case SessionAttrs::Primary: return "primary";
        case SessionAttrs::Standby: return "standby";
        case SessionAttrs::PreferStandby: return "prefer-standby";
        case SessionAttrs::Any: break;
    }
    return "any";
}

bool roleMatches(SessionAttrs attrs, Role role, bool readOnly) {
    switch (attrs) {
        case SessionAttrs::ReadWrite: return role == Role::Primary && !readOnly;
        case SessionAttrs::ReadOnly: return role == Role::Standby || readOnly;
        case SessionAttrs::Primary: return role == Role::Primary;
        case SessionAttrs::Standby: return role == Role::Standby;
        case SessionAttrs::Any:
        case SessionAttrs::PreferStandby: return true;
    }
    return true;
}

namespace {

bool lagOk(const HostView& host, const ChoiceLimits& limits) {
    return host.role != Role::Standby || limits.maxStandbyLag <= 0 || host.lagSeconds <= limits.maxStandbyLag;
}

// Preference tiers: a lower tier is tried only when no host of a higher one qualifies.
// 0 = known to fit, 1 = role unknown (the login will tell), 2 = fallback (prefer-standby's
// primary), -1 = never.
int tierOf(const HostView& host, SessionAttrs attrs, const ChoiceLimits& limits) {
    if (host.health == Health::Down || host.fenced) return -1;
    if (host.role == Role::Unknown) return 1;
    if (!lagOk(host, limits) && attrs != SessionAttrs::Any) return -1;  // too far behind to read from
    if (attrs == SessionAttrs::PreferStandby) return host.role == Role::Standby ? 0 : 2;
    return roleMatches(attrs, host.role, host.readOnly) ? 0 : -1;
}

}  // namespace

bool stillUsable(SessionAttrs attrs, const HostView& host, const ChoiceLimits& limits) {
    if (host.health == Health::Down || host.fenced) return false;
    if (host.role == Role::Unknown) return true;
    if (attrs == SessionAttrs::PreferStandby) return true;
    return roleMatches(attrs, host.role, host.readOnly) && (attrs == SessionAttrs::Any || lagOk(host, limits));
}

std::optional<size_t> chooseHost(const std::vector<HostView>& hosts, SessionAttrs attrs, LoadBalance balance,
                                 const ChoiceLimits& limits, uint64_t& cursor, uint64_t random) {
    int best = -1;
    std::vector<size_t> candidates;
    for (size_t i = 0; i < hosts.size(); ++i) {
        const int tier = tierOf(hosts[i], attrs, limits);
        if (tier < 0) continue;
        if (best < 0 || tier < best) {
            best = tier;
            candidates.clear();
        }
        if (tier == best) candidates.push_back(i);
    }
    if (candidates.empty()) return std::nullopt;
    switch (balance) {
        case LoadBalance::Disable: return candidates.front();
        case LoadBalance::Random: return candidates[random % candidates.size()];
        case LoadBalance::RoundRobin: break;
    }
    return candidates[cursor++ % candidates.size()];
}

}  // namespace sluice::discovery
