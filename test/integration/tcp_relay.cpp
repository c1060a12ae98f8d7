#include "tcp_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace sluice::itest {

namespace {

sockaddr_in loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

// Copies what is readable on `from` to `to`; false when `from` is done (EOF or an error).
bool pump(int from, int to) {
    char buffer[16384];
    ssize_t got = ::read(from, buffer, sizeof buffer);
    if (got <= 0) return false;
    for (ssize_t sent = 0; sent < got;) {
        ssize_t wrote = ::write(to, buffer + sent, static_cast<size_t>(got - sent));
        if (wrote <= 0) return false;
        sent += wrote;
    }
    return true;
}

}  // namespace

TcpRelay::TcpRelay(int targetPort) : TcpRelay(targetPort, ::socket(AF_INET, SOCK_STREAM, 0)) {}

TcpRelay::TcpRelay(int targetPort, int listenFd) : targetPort_(targetPort), listenFd_(listenFd) {
    socklen_t length = sizeof listenAddress_;
    if (listenFd_ < 0 || ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&listenAddress_), &length) != 0)
        throw std::runtime_error("TcpRelay: no socket to listen on");
    if (listenAddress_.sin_port == 0) {  // a new socket: listen on 127.0.0.1, any port
        listenAddress_ = loopback(0);
        length = sizeof listenAddress_;
        // Backlog 0: the kernel queues one connection beyond it, so two fill it.
        if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&listenAddress_), sizeof listenAddress_) != 0 ||
            ::listen(listenFd_, 0) != 0 ||
            ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&listenAddress_), &length) != 0)
            throw std::runtime_error("TcpRelay: cannot listen");
    }
    if (::pipe(wakeFds_) != 0) throw std::runtime_error("TcpRelay: no pipe");
    port_ = ntohs(listenAddress_.sin_port);
    thread_ = std::thread([this] { run(); });
}

TcpRelay::~TcpRelay() {
    stop_ = true;
    (void)!::write(wakeFds_[1], "x", 1);
    thread_.join();
    for (auto [client, server] : pairs_) {
        ::close(client);
        ::close(server);
    }
    for (int fd : fillers_) ::close(fd);
    ::close(listenFd_);
    ::close(wakeFds_[0]);
    ::close(wakeFds_[1]);
}

void TcpRelay::blackholeNewConnections() {
    accepting_ = false;
    (void)!::write(wakeFds_[1], "x", 1);
    // Connections the relay never accepts take the queue; once it is full, the kernel drops the
    // SYN of the next one, whose connect then hangs.
    for (int i = 0; i < 3; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        (void)::connect(fd, reinterpret_cast<sockaddr*>(&listenAddress_), sizeof listenAddress_);
        fillers_.push_back(fd);
    }
}

void TcpRelay::run() {
    while (!stop_) {
        std::vector<pollfd> fds{{wakeFds_[0], POLLIN, 0}};
        if (accepting_) fds.push_back({listenFd_, POLLIN, 0});
        const size_t firstPair = fds.size();
        for (auto [client, server] : pairs_) {
            fds.push_back({client, POLLIN, 0});
            fds.push_back({server, POLLIN, 0});
        }
        if (::poll(fds.data(), fds.size(), -1) < 0) continue;
        if (fds[0].revents) {
            char drain[16];
            (void)!::read(wakeFds_[0], drain, sizeof drain);
        }
        std::vector<std::pair<int, int>> open;
        for (size_t i = 0; i < pairs_.size(); ++i) {
            auto [client, server] = pairs_[i];
            bool alive = true;
            if (fds[firstPair + 2 * i].revents) alive = pump(client, server);
            if (alive && fds[firstPair + 2 * i + 1].revents) alive = pump(server, client);
            if (alive) {
                open.emplace_back(client, server);
            } else {
                ::close(client);
                ::close(server);
            }
        }
        pairs_ = std::move(open);
        if (accepting_ && firstPair == 2 && (fds[1].revents & POLLIN)) {
            int client = ::accept(listenFd_, nullptr, nullptr);
            int server = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in target = loopback(targetPort_);
            if (client >= 0 && server >= 0 &&
                ::connect(server, reinterpret_cast<sockaddr*>(&target), sizeof target) == 0) {
                pairs_.emplace_back(client, server);
            } else {
                if (client >= 0) ::close(client);
                if (server >= 0) ::close(server);
            }
        }
    }
}

}  // namespace sluice::itest
