// Which host of a database's list a new server connection goes to (DESIGN §9): libpq's
// target_session_attrs decide which hosts qualify, load_balance_hosts the order among them.
// Pure: it reads HostViews and a cursor, so it is unit-tested without a server.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "discovery/host_state.h"

namespace sluice::discovery {

enum class SessionAttrs : uint8_t { Any, ReadWrite, ReadOnly, Primary, Standby, PreferStandby };
enum class LoadBalance : uint8_t { Disable, RoundRobin, Random };

SessionAttrs parseSessionAttrs(std::string_view text);  // the config loader validated it: unknown = Any
LoadBalance parseLoadBalance(std::string_view text);
std::string_view sessionAttrsName(SessionAttrs attrs);
// Whether a multi-host pool needs the hosts' roles at all.
inline bool needsRole(SessionAttrs attrs) { return attrs != SessionAttrs::Any; }

// Whether a server logged in to a host of this role serves a pool with these attributes
// (libpq's test after login). prefer-standby takes anything: it only orders.
bool roleMatches(SessionAttrs attrs, Role role, bool readOnly);

struct ChoiceLimits {
    double maxStandbyLag = 0;  // seconds; 0 = any lag
};

// Whether a server already open on a host of this state may keep serving the pool: its role
// still matches (or is not known yet), the host is not fenced and not down.
bool stillUsable(SessionAttrs attrs, const HostView& host, const ChoiceLimits& limits);

// The index of the host a new server connection should try, or nullopt when none qualifies
// now (clients then wait for one). `cursor` is the caller's round-robin position; `random`
// a random number for LoadBalance::Random.
std::optional<size_t> chooseHost(const std::vector<HostView>& hosts, SessionAttrs attrs, LoadBalance balance,
                                 const ChoiceLimits& limits, uint64_t& cursor, uint64_t random);

}  // namespace sluice::discovery
