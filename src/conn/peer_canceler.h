// Cancel requests for clients of another process of a [peers] group (DESIGN §3, "Peers"). The
// key names the process that gave it (peer_id, conn/cancel_key.h); a request that reached this
// one instead — a load balancer or SO_REUSEPORT chose — is forwarded to that peer's address,
// with one hop less to live. At most the peer's pool_size forwards are in flight at once to a
// peer, across all workers; the rest wait their turn. The requester stays open until the peer
// closes the forwarded connection, which the peer does once its own cancel is done, so PQcancel
// still returns only when the query has been signalled. PgBouncer 1.21+ peers interoperate.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "config/config.h"
#include "conn/cancel_forwarder.h"
#include "conn/worker_report.h"
#include "util/clock.h"

namespace sluice::conn {

// Forwards in flight to each peer, counted across the process's workers.
class PeerCancelSlots {
public:
    bool tryTake(int peer, int limit);
    void give(int peer);

private:
    std::mutex mutex_;  // cancels are rare: a lock costs nothing here
    std::map<int, int> inFlight_;
};

class PeerCanceler {
public:
    using Answer = std::function<void(CancelOutcome)>;
    using ConfigSource = std::function<const config::Config&()>;
    PeerCanceler(uv_loop_t* loop, PeerCancelSlots& slots, ConfigSource config);
    ~PeerCanceler();

    // A CancelRequest whose key names `peer`, not this process; `answer` runs (on this thread)
    // when the forward is done, failed, or refused (hops exhausted, no such peer).
    void forward(int peer, int32_t pid, int32_t key, Answer answer);
    // The worker's sweep: requests queued for a slot another worker freed, and cancel_wait_timeout.
    void sweep(TimePoint now);

    // SHOW PEER_POOLS, per peer id.
    std::map<int, PeerCancelCounts> counts() const;

private:
    struct Request {
        int peer = 0;
        int32_t pid = 0, key = 0;
        Answer answer;
        TimePoint since;
    };
    struct Active {
        int peer = 0;
        std::unique_ptr<CancelForwarder> forwarder;
    };
    void startQueued();
    void finished(CancelForwarder& forwarder);

    uv_loop_t* loop_;
    PeerCancelSlots& slots_;
    ConfigSource config_;
    std::deque<Request> waiting_;
    std::vector<Active> active_;
    bool starting_ = false;
};

// Where a peer listens, as a forward connects to it.
CancelTarget peerCancelTarget(const config::PeerEntry& peer);

}  // namespace sluice::conn
