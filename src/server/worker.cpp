#include "server/worker.h"

#include <fmt/format.h>

#include "net/send_batcher.h"
#include "util/log.h"

namespace sluice::server {

namespace {
constexpr uint64_t kSweepMillis = conn::Connections::kSweepMillis;
}  // namespace

Worker::Worker(int index, pool::PoolRegistry& pools, conn::ProcessCounters& counters, conn::Snapshot snapshot)
    : index_(index) {
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &sweepTimer_);
    sweepTimer_.data = this;
    uv_async_init(&loop_, &wakeup_, &Worker::onAsync);
    wakeup_.data = this;
    std::string whyNot;
    sendBatcher_ = net::SendBatcher::attach(&loop_, whyNot);
    if (!sendBatcher_ && index_ == 0)
        SLOG_INFO("io_uring not available ({}): each message is sent with a system call of its own", whyNot);
    connections_ = std::make_unique<conn::Connections>(&loop_, pools, counters, std::move(snapshot));
}

Worker::~Worker() {
    join();
    if (!stopping_) {  // never ran (startup failed): close our handles so the loop can close
        closeListeners();
        uv_close(reinterpret_cast<uv_handle_t*>(&sweepTimer_), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&wakeup_), nullptr);
        uv_run(&loop_, UV_RUN_DEFAULT);
    }
    connections_.reset();
    sendBatcher_.reset();  // after the sockets, which give it their unsent bytes up to the end
    uv_loop_close(&loop_);
}

Status Worker::listen(const config::Settings& s, bool reusePort, const std::vector<int>& passedSockets,
                      std::string_view origin) {
    auto onConnection = [this](uv_stream_t* listener, bool isUnix) {
        if (stopping_) return;
        connections_->acceptClient(listener, isUnix);
        // At once, not at the next sweep: SHUTDOWN WAIT_FOR_CLIENTS reads this count, and a client
        // that came and ran a query within one sweep period was not counted (the pooler exited
        // under it). A count that lags a closed client only delays the exit by a sweep.
        publishCounts();
    };
    if (!passedSockets.empty()) {
        for (int fd : passedSockets) {
            auto adopted = net::Listener::adopt(&loop_, fd, static_cast<int>(s.listen_backlog), onConnection, origin);
            if (!adopted) {
                closeListeners();
                return adopted.error();
            }
            listeners_.push_back(std::move(adopted.value()));
        }
        if (index_ == 0)
            for (auto& listener : listeners_) SLOG_INFO("listening on {}", listener->description());
        return okStatus();
    }
    std::string addresses = s.listen_addr;
    size_t start = 0;
    while (start <= addresses.size() && !addresses.empty()) {
        size_t comma = addresses.find(',', start);
        std::string address = addresses.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        address.erase(0, address.find_first_not_of(" \t"));
        address.erase(address.find_last_not_of(" \t") + 1);
        if (!address.empty()) {
            net::Listener::TcpOptions options{address, static_cast<int>(s.listen_port), static_cast<int>(s.listen_backlog),
                                              reusePort};
            auto opened = net::Listener::openTcp(&loop_, options, onConnection);
            if (!opened) {
                closeListeners();
                return opened.error();
            }
            for (auto& listener : opened.value()) listeners_.push_back(std::move(listener));
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    if (!s.unix_socket_dir.empty() && index_ == 0) {
        net::Listener::UnixOptions options{s.unix_socket_dir, static_cast<int>(s.listen_port),
                                           static_cast<int>(s.listen_backlog), static_cast<int>(s.unix_socket_mode),
                                           s.unix_socket_group};
        auto opened = net::Listener::openUnix(&loop_, options, onConnection);
        if (!opened) {
            closeListeners();
            return opened.error();
        }
        listeners_.push_back(std::move(opened.value()));
    }
    for (auto& listener : listeners_) SLOG_INFO("listening on {}", listener->description());
    return okStatus();
}

void Worker::start() {
    uv_timer_start(&sweepTimer_, &Worker::onTimer, kSweepMillis, kSweepMillis);
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

void Worker::post(std::function<void(conn::Connections&)> task) {
    {
        std::lock_guard lock(postedMutex_);
        posted_.push_back(std::move(task));
    }
    uv_async_send(&wakeup_);
}

void Worker::onAsync(uv_async_t* async) { static_cast<Worker*>(async->data)->runPosted(); }

void Worker::runPosted() {
    std::vector<std::function<void(conn::Connections&)>> tasks;
    {
        std::lock_guard lock(postedMutex_);
        tasks.swap(posted_);
    }
    for (auto& task : tasks) task(*connections_);
    publishCounts();
}

void Worker::onTimer(uv_timer_t* timer) {
    auto* self = static_cast<Worker*>(timer->data);
    self->connections_->checkTimeouts();
    self->publishCounts();
}

void Worker::publishCounts() {
    clients_.store(connections_->clientCount(), std::memory_order_relaxed);
    activeServers_.store(connections_->activeServerCount(), std::memory_order_relaxed);
    servers_.store(connections_->serverCount(), std::memory_order_relaxed);
}

void Worker::closeListeners() {
    for (auto& listener : listeners_) listener->close();
    listeners_.clear();
}

void Worker::closeTcpListeners() {
    std::erase_if(listeners_, [](const std::unique_ptr<net::Listener>& listener) {
        if (listener->isUnix()) return false;
        listener->close();
        return true;
    });
}

std::vector<int> Worker::detachListeners() {
    std::vector<int> fds;
    for (auto& listener : listeners_)
        if (int fd = listener->detach(); fd >= 0) fds.push_back(fd);
    listeners_.clear();
    return fds;
}

void Worker::stop() {
    if (stopping_) return;
    stopping_ = true;
    closeListeners();
    connections_->beginShutdown(false);
    connections_->closeAllClients("server shutting down");
    connections_->closeAllServers("server shutting down");
    uv_timer_stop(&sweepTimer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&sweepTimer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&wakeup_), nullptr);
    // The loop ends by itself once the connections' close callbacks have run.
}

}  // namespace sluice::server
