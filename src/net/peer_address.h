// Where a client connection comes from, kept in 20 bytes and named only when a log line or SHOW
// CLIENTS asks: every idle client holds one, and a name such as "10.20.30.40:54321" would not fit
// inside a std::string (a heap block per client).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace sluice::net {

class PeerAddress {
public:
    PeerAddress() = default;  // unknown: named "?"
    // An AF_INET or AF_INET6 address; any other family is unknown.
    explicit PeerAddress(const sockaddr_storage& address);
    // A client of the unix socket of `listenPort` (PgBouncer names it "unix:<port>").
    static PeerAddress unixSocket(int listenPort);

    // "127.0.0.1:5432", "[::1]:5432", "unix:6432" or "?".
    std::string toString() const;
    // SHOW CLIENTS' addr and port: "127.0.0.1" and 5432, "::1", "unix" and the listen port.
    void split(std::string& host, int& port) const;

private:
    enum class Kind : uint8_t { Unknown, Unix, Ipv4, Ipv6 };
    Kind kind_ = Kind::Unknown;
    uint16_t port_ = 0;           // host byte order
    uint8_t address_[16] = {};    // 4 bytes for IPv4, in network order
};

}  // namespace sluice::net
