// How sockets name addresses (SHOW CLIENTS' addr/port, log lines), and reading them back; a
// client's PeerAddress, which keeps its peer small and names it the same way.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "net/peer_address.h"
#include "net/socket.h"

namespace sluice::net {
namespace {

// The socket address of `host` (IPv6 when it has a colon) and `port`.
sockaddr_storage address(const char* host, uint16_t port) {
    sockaddr_storage ss{};
    const bool v6 = std::string_view(host).find(':') != std::string_view::npos;
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    ss.ss_family = v6 ? AF_INET6 : AF_INET;
    (v6 ? in6->sin6_port : in->sin_port) = htons(port);
    EXPECT_EQ(inet_pton(ss.ss_family, host, v6 ? static_cast<void*>(&in6->sin6_addr) : &in->sin_addr), 1);
    return ss;
}

TEST(NetAddress, Ipv4AsDottedQuadAndPort) {
    EXPECT_EQ(formatAddress(address("127.0.0.1", 5432)), "127.0.0.1:5432");
    EXPECT_EQ(formatAddress(address("0.0.0.0", 0)), "0.0.0.0:0");
    EXPECT_EQ(formatAddress(address("255.255.255.255", 65535)), "255.255.255.255:65535");
    EXPECT_EQ(formatAddress(address("10.20.3.40", 60001)), "10.20.3.40:60001");
}

TEST(NetAddress, Ipv6InBracketsAndOtherFamiliesAsUnix) {
    EXPECT_EQ(formatAddress(address("::1", 6432)), "[::1]:6432");
    EXPECT_EQ(formatAddress(address("2001:db8::17", 1)), "[2001:db8::17]:1");
    sockaddr_storage unix{};
    unix.ss_family = AF_UNIX;
    EXPECT_EQ(formatAddress(unix), "unix");
}

TEST(NetAddress, SplitReadsBackWhatFormatWrote) {
    std::string host;
    int port = 0;
    splitAddress(formatAddress(address("192.168.1.254", 49152)), host, port);
    EXPECT_EQ(host, "192.168.1.254");
    EXPECT_EQ(port, 49152);
    splitAddress(formatAddress(address("fe80::1", 443)), host, port);
    EXPECT_EQ(host, "fe80::1");
    EXPECT_EQ(port, 443);
}

TEST(PeerAddress, NamesItsPeerAsFormatAddressDoes) {
    EXPECT_EQ(PeerAddress(address("10.20.30.40", 54321)).toString(), "10.20.30.40:54321");
    EXPECT_EQ(PeerAddress(address("2001:db8::17", 6432)).toString(), "[2001:db8::17]:6432");
    EXPECT_EQ(PeerAddress::unixSocket(6432).toString(), "unix:6432");
    sockaddr_storage unix{};
    unix.ss_family = AF_UNIX;
    EXPECT_EQ(PeerAddress(unix).toString(), "?");
    EXPECT_EQ(PeerAddress().toString(), "?");
}

TEST(PeerAddress, SplitsIntoShowClientsAddrAndPort) {
    std::string host;
    int port = 0;
    PeerAddress(address("192.168.1.254", 49152)).split(host, port);
    EXPECT_EQ(host, "192.168.1.254");
    EXPECT_EQ(port, 49152);
    PeerAddress(address("::1", 443)).split(host, port);
    EXPECT_EQ(host, "::1");
    EXPECT_EQ(port, 443);
    PeerAddress::unixSocket(6543).split(host, port);
    EXPECT_EQ(host, "unix");
    EXPECT_EQ(port, 6543);
}

TEST(PeerAddress, StaysSmall) {
    // Every idle client holds one: an IPv6 address, a port and a kind, no heap block.
    EXPECT_LE(sizeof(PeerAddress), 20u);
}

}  // namespace
}  // namespace sluice::net
