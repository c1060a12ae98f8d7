#include "net/peer_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include <fmt/format.h>

#include "net/socket.h"

namespace sluice::net {

PeerAddress::PeerAddress(const sockaddr_storage& address) {
    if (address.ss_family == AF_INET) {
        const auto& in = reinterpret_cast<const sockaddr_in&>(address);
        kind_ = Kind::Ipv4;
        port_ = ntohs(in.sin_port);
        std::memcpy(address_, &in.sin_addr, sizeof in.sin_addr);
    } else if (address.ss_family == AF_INET6) {
        const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address);
        kind_ = Kind::Ipv6;
        port_ = ntohs(in6.sin6_port);
        std::memcpy(address_, &in6.sin6_addr, sizeof in6.sin6_addr);
    }
}

PeerAddress PeerAddress::unixSocket(int listenPort) {
    PeerAddress peer;
    peer.kind_ = Kind::Unix;
    peer.port_ = static_cast<uint16_t>(listenPort);
    return peer;
}

std::string PeerAddress::toString() const {
    sockaddr_storage address{};
    switch (kind_) {
        case Kind::Unknown: return "?";
        case Kind::Unix: return fmt::format("unix:{}", port_);
        case Kind::Ipv4: {
            auto& in = reinterpret_cast<sockaddr_in&>(address);
            in.sin_family = AF_INET;
            in.sin_port = htons(port_);
            std::memcpy(&in.sin_addr, address_, sizeof in.sin_addr);
            break;
        }
        case Kind::Ipv6: {
            auto& in6 = reinterpret_cast<sockaddr_in6&>(address);
            in6.sin6_family = AF_INET6;
            in6.sin6_port = htons(port_);
            std::memcpy(&in6.sin6_addr, address_, sizeof in6.sin6_addr);
            break;
        }
    }
    return formatAddress(address);
}

void PeerAddress::split(std::string& host, int& port) const { splitAddress(toString(), host, port); }

}  // namespace sluice::net
