// Forwards one CancelRequest to a server on a connection of its own (the protocol's way), with
// the server's real key, then closes; the client's cancel connection never waits for it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "net/socket.h"
#include "util/clock.h"

namespace sluice::conn {

class CancelForwarder final : public net::SocketOwner {
public:
    using Done = std::function<void(CancelForwarder&)>;
    CancelForwarder(uv_loop_t* loop, std::string host, int port, int32_t pid, int32_t key, Done done);
    void start();
    // cancel_wait_timeout: a cancel that could not be delivered in time is dropped.
    void abandon() { socket_.close(); }
    TimePoint startedAt() const { return startedAt_; }

    void onSocketRead(net::IoBuffer& input) override { input.consume(input.size()); }
    void onSocketEnd(std::string_view) override { socket_.close(); }
    void onSocketConnected(int status) override;
    void onSocketDrained() override { socket_.close(); }
    void onSocketClosed() override { done_(*this); }

private:
    net::Socket socket_;
    std::string host_;
    int port_;
    int32_t pid_;
    int32_t key_;
    Done done_;
    TimePoint startedAt_ = Clock::now();
};

}  // namespace sluice::conn
