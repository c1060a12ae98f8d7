// The Server's part of the online restart (-R; DESIGN §3, server/takeover.h): the new process
// asking the running one for its sockets and clients, and the running one handing them over.
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "conn/cancel_key.h"
#include "proto/builders.h"
#include "proto/codes.h"
#include "server/server.h"
#include "util/log.h"

namespace sluice::server {

bool Server::takeOverFromRunningProcess(TakeoverReceiver::Listeners& listeners) {
    const config::Settings& settings = snapshot_.config->settings;
    if (settings.unix_socket_dir.empty()) {
        SLOG_WARN("-R needs unix_socket_dir (the running process is reached through it); starting normally");
        return true;
    }
    const std::string path = fmt::format("{}/.s.PGSQL.{}", settings.unix_socket_dir, settings.listen_port);
    std::string nobody;
    auto connected = TakeoverReceiver::connect(path, nobody);
    if (!connected) {
        SLOG_FATAL("{}", connected.error().message);
        return false;
    }
    if (!connected.value()) {
        SLOG_INFO("-R: {}; starting normally", nobody);
        return true;
    }
    auto received = connected.value()->receiveListeners();
    if (!received) {
        SLOG_FATAL("{}", received.error().message);
        return false;
    }
    takeoverReceiver_ = std::move(connected.value());
    listeners = std::move(received.value());
    SLOG_INFO("-R: took over {} listening socket(s) and {} HTTP socket(s) from the running process",
              listeners.pooler.size(), listeners.http.size());
    return true;
}

void Server::receiveTakenOverClients() {
    // The receiver's thread hands each client to the control loop, which gives it to the worker
    // its cancel key names (so that a CancelRequest finds it), or the first when there are fewer.
    auto adopt = [this](conn::LeavingClient client) {
        auto moving = std::make_shared<conn::LeavingClient>(std::move(client));
        postToControl([this, moving] {
            if (shutdown_ == Shutdown::Immediate) return;  // the streams close with `moving`
            int worker = conn::cancelKeyWorker(moving->state.cancelPid);
            if (worker >= static_cast<int>(workers_.size())) worker = 0;
            workers_[static_cast<size_t>(worker)]->post(
                [moving](conn::Connections& connections) { connections.adoptClient(std::move(*moving)); });
        });
    };
    auto done = [this](size_t clients, std::string error) {
        postToControl([this, clients, error] {
            if (error.empty()) SLOG_INFO("-R: takeover complete, {} client(s) taken over", clients);
            else SLOG_ERROR("-R: takeover ended after {} client(s): {}", clients, error);
            takeoverReceiver_.reset();
        });
    };
    takeoverReceiver_->receiveClients(std::move(adopt), std::move(done));
}

void Server::takeOver(const conn::ConsoleRequest& request) {
    if (takeoverSender_) {
        std::string out;
        proto::appendErrorResponse(out, "ERROR", proto::sqlstate::kObjectNotInPrerequisiteState,
                                   "a TAKEOVER is already under way");
        proto::appendReadyForQuery(out, 'I');
        reply(request, std::move(out), false);
        return;
    }
    // The asking connection leaves its worker's loop and becomes the channel.
    workers_[static_cast<size_t>(request.worker)]->post([this, request](conn::Connections& connections) {
        auto channel = std::make_shared<Result<net::DetachedStream>>(connections.detachTakeoverChannel(request.clientId));
        postToControl([this, request, channel] { handOverListeners(request, std::move(*channel)); });
    });
}

void Server::handOverListeners(const conn::ConsoleRequest& request, Result<net::DetachedStream> channel) {
    if (!channel) {
        std::string out;
        proto::appendErrorResponse(out, "ERROR", proto::sqlstate::kInsufficientPrivilege, channel.error().message);
        proto::appendReadyForQuery(out, 'I');
        reply(request, std::move(out), false);
        return;
    }
    if (takeoverSender_ || shutdown_ != Shutdown::None) return;  // the channel closes: the new process fails
    takeoverSender_ = std::make_unique<TakeoverSender>(std::exchange(channel.value().fd, -1));
    SLOG_INFO("TAKEOVER: handing the listening sockets over to the new process; clients follow as they come to "
              "rest between transactions");
    pidfile_.clear();  // the new process has written its own
    shutdown_ = Shutdown::WaitForClients;  // exits once every client has gone over or left
    notifier_.stopping(notifyStatus());
    auto pending = std::make_shared<size_t>(workers_.size());
    for (auto& worker : workers_) {
        Worker* w = worker.get();
        w->post([this, w, pending](conn::Connections&) {
            std::vector<int> fds = w->detachListeners();
            postToControl([this, fds, pending] {
                for (int fd : fds) {
                    keptListeners_.push_back(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
                    takeoverSender_->sendListener(fd);
                }
                if (--*pending == 0) handOverClients();
            });
        });
    }
}

void Server::handOverClients() {
    if (http_) {
        for (int fd : http_->detachListeners()) {
            keptHttpListeners_.push_back(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
            takeoverSender_->sendHttpListener(fd);
        }
        http_.reset();
    }
    takeoverSender_->sendListenersDone();
    TakeoverSender* sender = takeoverSender_.get();  // outlives the workers (reset after they end)
    onEveryWorker([sender](conn::Connections& connections) {
        connections.startHandOver([sender](conn::LeavingClient client) { sender->sendClient(std::move(client)); });
    });
}

void Server::resumeAfterFailedTakeover() {
    SLOG_ERROR("TAKEOVER failed after {} client(s): listening again and serving on; the clients handed over "
               "went with the new process", takeoverSender_->clientsSent());
    takeoverSender_.reset();
    onEveryWorker([](conn::Connections& connections) { connections.stopHandOver(); });
    std::erase(keptListeners_, -1);
    std::erase(keptHttpListeners_, -1);
    auto config = snapshot_.config;
    const bool reusePort = workers_.size() > 1 || config->settings.so_reuseport;
    // Each worker listens on duplicates of its own; ours close once all have theirs.
    auto pending = std::make_shared<size_t>(workers_.size());
    for (auto& worker : workers_) {
        Worker* w = worker.get();
        w->post([this, w, config, reusePort, pending, fds = keptListeners_](conn::Connections&) {
            if (auto status = w->listen(config->settings, reusePort, fds, "kept after a failed takeover"); !status)
                SLOG_ERROR("{}", status.error().message);
            postToControl([this, pending] {
                if (--*pending > 0) return;
                for (int fd : keptListeners_) ::close(fd);
                keptListeners_.clear();
            });
        });
    }
    if (!keptHttpListeners_.empty()) {
        auto adopted = metrics::HttpEndpoint::adopt(&loop_, keptHttpListeners_, httpHandler());
        if (adopted) http_ = std::move(adopted.value());
        else SLOG_ERROR("{}", adopted.error().message);
        for (int fd : keptHttpListeners_) ::close(fd);
        keptHttpListeners_.clear();
    }
    shutdown_ = Shutdown::None;
    writePidfile(true);  // the new process had put its own pid there
    notifier_.ready(notifyStatus());
}

}  // namespace sluice::server
