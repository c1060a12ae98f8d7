// The prober (DESIGN §9): on the control loop, one connection per host of every multi-host
// database, logged in like a pooled server, asking every host_probe_interval whether the host
// is in recovery, its timeline and its replication lag. It is how the pooler learns that a
// standby was promoted, that a primary hangs (no answer within host_probe_timeout) or came
// back, and it fences a primary on an old timeline. Faster (every 100 ms) while a host is down
// or a cluster has no primary, and at once when a worker saw a connection die.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "conn/server_login.h"
#include "discovery/host_registry.h"
#include "net/socket.h"
#include "net/tls.h"

namespace sluice::discovery {

struct ProbeSettings {
    double interval = 1;
    double timeout = 3;
    std::string sslmode = "disable";                 // server_tls_sslmode
    std::shared_ptr<const net::TlsContext> tls;      // null when sslmode is disable
    net::Socket::TcpOptions tcp;
};

// Who the probe logs in as: the login of a pool that uses the host.
struct ProbeLogin {
    conn::ServerCredentials credentials;
    std::string dbname;
};

class HostProber {
public:
    using FindLogin = std::function<std::optional<ProbeLogin>(const HostState& host)>;
    // Called on the control loop after a host's role, health or fencing changed.
    using OnChange = std::function<void()>;

    HostProber(uv_loop_t* loop, HostRegistry& registry, FindLogin findLogin, OnChange onChange);
    ~HostProber();

    void configure(ProbeSettings settings) { settings_ = std::move(settings); }
    void start();
    void stop();        // closes every probe connection; the loop can then end
    void probeNow();    // every host, at the next tick (and wakes the ticks if they sleep)

    uint64_t failovers() const { return failovers_; }
    uint64_t roleChanges() const { return roleChanges_; }

    class HostProbe;     // one host's schedule and connection
    class Connection;    // one probe connection (a SocketOwner)

private:
    static void onTimer(uv_timer_t* timer);
    void tick();
    // A probe changed what is known of `host`: log it, refresh fencing, tell the workers.
    void hostChanged(HostState& host, const HostView& before);
    void logFencing(const HostState& host, bool wasFenced);
    // Notices (and logs, and counts) a cluster's primary moving to another host.
    void trackPrimaries();

    uv_loop_t* loop_;
    HostRegistry& registry_;
    FindLogin findLogin_;
    OnChange onChange_;
    ProbeSettings settings_;
    uv_timer_t timer_{};
    bool running_ = false;
    std::map<HostState*, std::unique_ptr<HostProbe>> probes_;
    // Each cluster's primary as last seen, for the failover log line and counter.
    std::map<std::vector<config::HostAddress>, std::string> primaries_;
    uint64_t failovers_ = 0;
    uint64_t roleChanges_ = 0;

    friend class HostProbe;
};

}  // namespace sluice::discovery
