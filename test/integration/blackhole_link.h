// A network path a test can cut: a network namespace of its own, joined to the test's by a veth
// pair. An address inside the namespace (address()) is reached over the pair; cut() takes the
// namespace's end of the link down, after which the kernel silently drops every packet sent to
// that address: no RST, no ICMP, not even a failed ARP (the host's end keeps a permanent neighbour
// entry). That is a server behind a dead switch or a firewall that drops: only TCP's own timers
// (tcp_user_timeout, a connect timeout) notice. restore() brings the link back.
//
// Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for setns), the `ip` command and veth support; where
// any is missing the constructor throws Unavailable saying which, for the test to skip.
// Names and addresses (198.18.0.0/15, the benchmarking range) are derived from the pid, so
// concurrent test runs on one machine do not collide.
#pragma once

#include <stdexcept>
#include <string>

namespace sluice::itest {

class BlackholeLink {
public:
    struct Unavailable : std::runtime_error {
        using std::runtime_error::runtime_error;
    };

    BlackholeLink();
    ~BlackholeLink();
    BlackholeLink(const BlackholeLink&) = delete;
    BlackholeLink& operator=(const BlackholeLink&) = delete;

    // The namespace's end of the pair, e.g. "198.18.12.6".
    const std::string& address() const { return farAddress_; }
    // A TCP socket inside the namespace listening on address(), any port (backlog 0, as
    // TcpRelay's own); the caller owns it. Throws std::runtime_error on failure.
    int listenInside() const;
    // Packets to address() are dropped from now on / flow again.
    void cut();
    void restore();

private:
    void remove();
    // Runs an `ip` command; throws (Unavailable when `unavailable`) with its output on failure.
    std::string ip(const std::string& arguments, bool unavailable = false) const;

    std::string namespace_;
    std::string hostLink_, farLink_;
    std::string hostAddress_, farAddress_;
    bool made_ = false;
};

}  // namespace sluice::itest
