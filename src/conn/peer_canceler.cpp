#include "conn/peer_canceler.h"

#include <algorithm>

#include "conn/cancel_key.h"
#include "util/log.h"

namespace sluice::conn {

bool PeerCancelSlots::tryTake(int peer, int limit) {
    std::lock_guard lock(mutex_);
    int& count = inFlight_[peer];
    if (count >= limit) return false;
    ++count;
    return true;
}

void PeerCancelSlots::give(int peer) {
    std::lock_guard lock(mutex_);
    if (auto it = inFlight_.find(peer); it != inFlight_.end() && --it->second <= 0) inFlight_.erase(it);
}

CancelTarget peerCancelTarget(const config::PeerEntry& peer) {
    CancelTarget target;
    if (peer.host.front() == '/') {
        target.unixPath = peer.host + "/.s.PGSQL." + std::to_string(peer.port);
        return target;
    }
    if (!net::parseIpAddress(peer.host, peer.port, target.address)) {
        target.hostName = peer.host;  // resolved when the forward starts, as PgBouncer does
        target.port = peer.port;
    }
    return target;
}

PeerCanceler::PeerCanceler(uv_loop_t* loop, PeerCancelSlots& slots, ConfigSource config)
    : loop_(loop), slots_(slots), config_(std::move(config)) {}

PeerCanceler::~PeerCanceler() {
    for (auto& active : active_) slots_.give(active.peer);
}

void PeerCanceler::forward(int peer, int32_t pid, int32_t key, Answer answer) {
    if (cancelKeyTtl(key) == 0) {
        answer(CancelOutcome::TtlExhausted);
        return;
    }
    if (!config_().peers.count(peer)) {
        answer(CancelOutcome::UnknownPeer);
        return;
    }
    SLOG_DEBUG("forwarding cancellation request to peer {}", peer);
    // The TTL is the key's low bits, never zero here: taking one is a decrement without borrow.
    waiting_.push_back(Request{peer, pid, key - 1, std::move(answer), Clock::now()});
    startQueued();
}

void PeerCanceler::startQueued() {
    if (starting_) return;  // a forward that failed at once, from inside the walk below
    starting_ = true;
    const config::Config& config = config_();
    for (auto it = waiting_.begin(); it != waiting_.end();) {
        auto peer = config.peers.find(it->peer);
        if (peer == config.peers.end()) {  // removed by a reload meanwhile
            Answer answer = std::move(it->answer);
            it = waiting_.erase(it);
            answer(CancelOutcome::UnknownPeer);
            continue;
        }
        const int limit = std::max(1, peer->second.poolSize.value_or(static_cast<int>(config.settings.default_pool_size)));
        if (!slots_.tryTake(it->peer, limit)) {
            ++it;
            continue;
        }
        Request request = std::move(*it);
        it = waiting_.erase(it);
        auto forwarder = std::make_unique<CancelForwarder>(
            loop_, peerCancelTarget(peer->second), request.pid, request.key,
            [this, answer = std::move(request.answer)](CancelForwarder& done, CancelOutcome outcome) mutable {
                Answer tell = std::move(answer);  // finished() frees this lambda
                finished(done);
                tell(outcome);
            });
        CancelForwarder& started = *forwarder;
        active_.push_back(Active{request.peer, std::move(forwarder)});
        started.start();
    }
    starting_ = false;
}

void PeerCanceler::finished(CancelForwarder& forwarder) {
    auto it = std::find_if(active_.begin(), active_.end(), [&](const Active& a) { return a.forwarder.get() == &forwarder; });
    if (it == active_.end()) return;
    slots_.give(it->peer);
    active_.erase(it);  // its socket is closed: freeing it from its own callback is safe
    startQueued();      // the slot may be the one a queued request waits for
}

void PeerCanceler::sweep(TimePoint now) {
    const double wait = config_().settings.cancel_wait_timeout;
    if (wait > 0) {
        while (!waiting_.empty() && secondsSince(waiting_.front().since, now) >= wait) {
            Answer answer = std::move(waiting_.front().answer);
            waiting_.pop_front();
            answer(CancelOutcome::TimedOut);
        }
        std::vector<CancelForwarder*> late;
        for (auto& active : active_)
            if (!active.forwarder->sent() && secondsSince(active.forwarder->startedAt(), now) >= wait)
                late.push_back(active.forwarder.get());
        for (CancelForwarder* forwarder : late) forwarder->abandon();
    }
    startQueued();
}

std::map<int, PeerCancelCounts> PeerCanceler::counts() const {
    std::map<int, PeerCancelCounts> counts;
    for (const auto& request : waiting_) ++counts[request.peer].waiting;
    for (const auto& active : active_) ++(active.forwarder->sent() ? counts[active.peer].sent : counts[active.peer].connecting);
    return counts;
}

}  // namespace sluice::conn
