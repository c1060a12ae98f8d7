// Forwards one CancelRequest on a connection of its own (the protocol's way) and waits for the
// other end to close that connection: to a server, with the server's real key — only then has
// the backend been signalled, and only then may the server run another client's query (DESIGN
// §2, "Cancels"); or to a peer process, with the client's key (DESIGN §3, "Peers").
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <string>

#include "net/host_lookup.h"
#include "net/socket.h"
#include "util/clock.h"

namespace sluice::conn {

// How a cancel request ended, for the connection that sent it.
enum class CancelOutcome { Delivered, Failed, TimedOut, UnknownKey, IdleClient, TtlExhausted, UnknownPeer };

// Where a server connection went: its unix socket path, or the address it connected to (a
// host name was resolved then; the cancel goes to the same machine without asking DNS again).
// A peer is given by name: `hostName` is resolved when the forward starts.
struct CancelTarget {
    std::string unixPath;  // empty: TCP to `address`, or to `hostName`:`port` once resolved
    sockaddr_storage address{};
    std::string hostName;
    int port = 0;
};

class CancelForwarder final : public net::SocketOwner {
public:
    using Done = std::function<void(CancelForwarder&, CancelOutcome)>;
    CancelForwarder(uv_loop_t* loop, CancelTarget target, int32_t pid, int32_t key, Done done);
    void start();
    // Sent: the server has the request and will close the connection once it acted on it.
    bool sent() const { return sent_; }
    // cancel_wait_timeout: a cancel still not sent is dropped.
    void abandon();
    TimePoint startedAt() const { return startedAt_; }

    void onSocketRead(net::IoBuffer& input) override { input.consume(input.size()); }
    void onSocketEnd(std::string_view) override { socket_.close(); }
    void onSocketConnected(int status) override;
    void onSocketClosed() override;

private:
    void connectTo(const sockaddr* address);

    uv_loop_t* loop_;
    net::Socket socket_;
    net::HostLookup lookup_;  // a peer given by host name
    CancelTarget target_;
    int32_t pid_;
    int32_t key_;
    Done done_;
    bool sent_ = false;
    bool abandoned_ = false;
    TimePoint startedAt_ = Clock::now();
};

}  // namespace sluice::conn
