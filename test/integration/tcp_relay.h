// A TCP relay on 127.0.0.1 (or a listening socket it is given) to a local port, on a thread of its
// own. Tests put it between the pooler and PostgreSQL to make the way to the server misbehave: once
// it stops accepting and its listen queue is full, a new connection to it hangs as one to a host
// that drops packets does.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice::itest {

class TcpRelay {
public:
    explicit TcpRelay(int targetPort);
    // Relays what `listenFd` (a listening IPv4 socket made elsewhere, e.g. inside another network
    // namespace: see BlackholeLink) accepts; the relay owns it.
    TcpRelay(int targetPort, int listenFd);
    ~TcpRelay();
    TcpRelay(const TcpRelay&) = delete;
    TcpRelay& operator=(const TcpRelay&) = delete;

    int port() const { return port_; }
    // New connections are no longer accepted, and the listen queue is filled with connections of
    // the relay's own: from now on a connect to port() hangs. Relayed connections go on.
    void blackholeNewConnections();
    // New connections go to `port` from now on (a load balancer choosing another backend);
    // relayed connections stay where they are.
    void retarget(int port) { targetPort_ = port; }

private:
    void run();

    std::atomic<int> targetPort_;
    int listenFd_ = -1;
    sockaddr_in listenAddress_{};
    int port_ = 0;
    int wakeFds_[2] = {-1, -1};  // a pipe that wakes the thread
    std::atomic<bool> accepting_{true};
    std::atomic<bool> stop_{false};
    std::vector<int> fillers_;             // the queue's occupants
    std::vector<std::pair<int, int>> pairs_;  // client, server (the relay thread's own)
    std::thread thread_;
};

}  // namespace sluice::itest
