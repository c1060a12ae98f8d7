// A Worker is one thread with one libuv loop (DESIGN §3): its listeners, every connection they
// accept or it opens, and a periodic sweep for timeouts. Other threads talk to it only by post().
#pragma once

#include <uv.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "conn/connections.h"
#include "net/listener.h"

namespace sluice::server {

class Worker {
public:
    Worker(int index, pool::PoolRegistry& pools, conn::ProcessCounters& counters, conn::Snapshot snapshot);
    ~Worker();

    // Opens the listeners on this worker's loop; on error nothing is left open. With sockets
    // passed by systemd (socket activation), every worker accepts on those instead of opening
    // listen_addr / unix_socket_dir.
    // The same for those a previous process handed over (-R); `origin` names where they came from.
    Status listen(const config::Settings& settings, bool reusePort, const std::vector<int>& passedSockets,
                  std::string_view origin);
    // Before start(): where this worker's admin console clients send their queries.
    void setConsoleGateway(conn::ConsoleGateway* gateway) { connections_->setConsoleGateway(gateway, index_); }
    void setMesh(conn::WorkerMesh* mesh) { connections_->setMesh(mesh); }
    void start();  // runs the loop on a thread of its own
    void join();

    // Runs `task` on the worker's thread.
    void post(std::function<void(conn::Connections&)> task);

    // Thread-safe figures, refreshed by the worker's sweep, for the control thread's decisions.
    size_t clientCount() const { return clients_.load(std::memory_order_relaxed); }
    size_t activeServerCount() const { return activeServers_.load(std::memory_order_relaxed); }
    size_t serverCount() const { return servers_.load(std::memory_order_relaxed); }

    // Called on the worker's thread (through post).
    void closeListeners();
    // Shutting down with a wait: TCP closes, the unix socket stays for the admin console.
    void closeTcpListeners();
    // The online restart: duplicates of every listening socket, for the new process; this
    // worker accepts no more.
    std::vector<int> detachListeners();
    void stop();  // closes everything; the loop then ends

private:
    static void onTimer(uv_timer_t* timer);
    static void onAsync(uv_async_t* async);
    void runPosted();
    void publishCounts();

    int index_;
    uv_loop_t loop_{};  // zeroed: loop_.data (kept by uv_loop_init) tells sockets of a SendBatcher
    uv_timer_t sweepTimer_;
    uv_async_t wakeup_;
    std::unique_ptr<net::SendBatcher> sendBatcher_;  // null without io_uring: sockets write directly
    std::unique_ptr<conn::Connections> connections_;
    std::vector<std::unique_ptr<net::Listener>> listeners_;
    std::thread thread_;
    std::mutex postedMutex_;
    std::vector<std::function<void(conn::Connections&)>> posted_;
    std::atomic<size_t> clients_{0};
    std::atomic<size_t> activeServers_{0};
    std::atomic<size_t> servers_{0};
    bool stopping_ = false;
};

}  // namespace sluice::server
