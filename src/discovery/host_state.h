// What the pooler knows of one PostgreSQL host of a multi-host database (DESIGN §9): its role,
// whether it answers, its timeline and replication lag. One HostState per host:port, shared by
// every entry that lists it and by every worker, so a host is probed once. Written by server
// logins and failures (workers) and by the prober (control thread); read when a server
// connection picks its host. A mutex guards it: it is touched per server connection and per
// probe, never per transaction.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "config/database_entry.h"
#include "util/clock.h"

namespace sluice::discovery {

enum class Role : uint8_t { Unknown, Primary, Standby };
enum class Health : uint8_t { Unknown, Up, Down };

std::string_view roleName(Role role);  // "unknown", "primary", "standby"

// A copy of a host's state at one instant.
struct HostView {
    Role role = Role::Unknown;
    Health health = Health::Unknown;
    bool readOnly = false;     // default_transaction_read_only on (a read-write session is impossible)
    bool fenced = false;       // claims primary on a lower timeline than another: never written to
    int64_t timeline = 0;      // 0 = not known
    double lagSeconds = 0;     // a standby's replay delay, from the last probe
    bool probing = false;      // a probe is in flight
    TimePoint lastProbe{};     // when a probe last answered (or failed)
    double probeLatencySeconds = 0;
    int serversOpen = 0;
    TimePoint failingSince{};  // first failure of the current outage; {} while up
    Role roleBeforeFailure = Role::Unknown;  // what it was when the current outage began
};

class HostState {
public:
    explicit HostState(config::HostAddress address) : address_(std::move(address)) {}

    const config::HostAddress& address() const { return address_; }
    // "host:port", or the socket path for a unix socket directory.
    std::string describe() const;

    // A server login or a probe learned the host's role. True when it changed.
    bool reportRole(Role role, bool readOnly);
    // A probe answered: role, timeline and lag as of now, and whether that makes it a fenced
    // primary (set together, so no one sees it as an unfenced primary in between).
    bool reportProbe(Role role, bool readOnly, int64_t timeline, double lagSeconds, double latencySeconds,
                     bool fenced = false);
    // A connection to the host failed or was lost. Until `retryAfter` seconds have passed (or a
    // probe finds it up again) no new server connection is sent there. True when it was up.
    bool reportFailure(double retryAfter);
    bool setFenced(bool fenced);
    void setProbing(bool probing);

    HostView view(TimePoint now = Clock::now()) const;
    // Bumped by every change of role, health or fencing, for those who cache decisions.
    uint64_t version() const { return version_.load(std::memory_order_acquire); }

    void serverOpened() { serversOpen_.fetch_add(1, std::memory_order_relaxed); }
    void serverClosed() { serversOpen_.fetch_sub(1, std::memory_order_relaxed); }

    // When the first failure of the current outage was seen (for the failover log line).
    TimePoint failingSince() const;

private:
    void changed() { version_.fetch_add(1, std::memory_order_acq_rel); }
    // Under mutex_: the host answered with this role. True when anything changed.
    bool markUp(Role role, bool readOnly, bool fenced);

    const config::HostAddress address_;
    mutable std::mutex mutex_;
    Role role_ = Role::Unknown;
    bool readOnly_ = false;
    bool fenced_ = false;
    bool probing_ = false;
    bool up_ = false;             // the last login or probe succeeded
    TimePoint downUntil_{};       // no new connections before this
    TimePoint failingSince_{};    // first failure of the current outage; {} when up
    Role roleBeforeFailure_ = Role::Unknown;
    int64_t timeline_ = 0;
    double lagSeconds_ = 0;
    TimePoint lastProbe_{};
    double probeLatency_ = 0;
    std::atomic<uint64_t> version_{1};
    std::atomic<int> serversOpen_{0};
};

}  // namespace sluice::discovery
