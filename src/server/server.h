// The process: config snapshots, the workers, and the control thread that turns signals into
// reloads and shutdowns (DESIGN §3).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "admin/console.h"
#include "admin/control.h"
#include "conn/connections.h"
#include "discovery/host_prober.h"
#include "metrics/http_endpoint.h"
#include "pool/pool_registry.h"
#include "server/systemd_notify.h"
#include "server/takeover.h"
#include "server/worker.h"

namespace sluice::server {

struct Options {
    std::string configPath;
    int verbose = 0;
    bool quiet = false;
    bool daemon = false;
    std::string user;  // -u: switch to this user after start
    // -R: PgBouncer's online restart: take the listening sockets and the clients over from the
    // process running with this configuration (server/takeover.h); none running: a normal start.
    bool reboot = false;
};

class Server final : public admin::Control, public conn::ConsoleGateway, public conn::WorkerMesh {
public:
    explicit Server(Options options);
    ~Server() override;
    // Runs until shutdown; returns the process exit code.
    int run();

    // admin::Control (on the control thread)
    const conn::Snapshot& snapshot() const override { return snapshot_; }
    const discovery::HostRegistry& hosts() const override { return pools_.hosts(); }
    void collectReports(std::function<void(std::vector<conn::WorkerReport>)> done) override;
    void onEveryWorker(std::function<void(conn::Connections&)> task) override;
    Status reload() override;
    Result<std::string> applySetting(std::string_view key, std::string_view value) override;
    void shutdown(admin::ShutdownMode mode) override;
    void takeOver(const conn::ConsoleRequest& request) override;
    bool shuttingDown() const override { return shutdown_ != Shutdown::None; }
    void reply(const conn::ConsoleRequest& to, std::string bytes, bool closeAfter) override;

    // conn::ConsoleGateway (on a worker thread)
    void submit(conn::ConsoleRequest request) override;
    // conn::WorkerMesh (on a worker thread; the workers exist until every loop has ended)
    int workerCount() const override { return static_cast<int>(workers_.size()); }
    void postToWorker(int worker, std::function<void(conn::Connections&)> task) override {
        workers_[static_cast<size_t>(worker)]->post(std::move(task));
    }

private:
    enum class Shutdown { None, WaitForClients, WaitForServers, Immediate };

    Result<conn::Snapshot> loadSnapshot() const;
    void applyLogging(const config::Settings& settings) const;
    // Hands a new snapshot to every worker.
    void publish(conn::Snapshot snapshot);
    void beginShutdown(Shutdown mode);
    // -R, new side: asks the running process to hand over; its listening sockets, or none (a
    // normal start). False when the start must fail.
    bool takeOverFromRunningProcess(TakeoverReceiver::Listeners& listeners);
    // -R, new side, once the workers run: the clients as they arrive.
    void receiveTakenOverClients();
    // TAKEOVER, old side: the channel is ours; the listening sockets go first, then the clients.
    void handOverListeners(const conn::ConsoleRequest& request, Result<net::DetachedStream> channel);
    void handOverClients();
    // The new process went away before the end: this one listens again (on the sockets it kept)
    // and serves on; the clients not handed over yet never left.
    void resumeAfterFailedTakeover();
    void checkShutdown();
    // Runs `task` on the control thread (from any thread).
    void postToControl(std::function<void()> task);
    void restartStatsTimer();
    // The prober's view of the current settings.
    discovery::ProbeSettings probeSettings() const;
    // The login a probe of `host` uses: that of a pool whose database lists the host.
    std::optional<discovery::ProbeLogin> probeLogin(const discovery::HostState& host);
    // /metrics, /health and /ready of the HTTP endpoint.
    metrics::HttpEndpoint::Handler httpHandler();
    void serveHttp(std::string_view method, std::string_view path, metrics::HttpEndpoint::Respond respond);
    void serveReady(metrics::HttpEndpoint::Respond respond);
    void serveMetrics(metrics::HttpEndpoint::Respond respond);
    static void onSignal(uv_signal_t* handle, int signum);
    static void onTimer(uv_timer_t* timer);
    static void onStatsTimer(uv_timer_t* timer);
    static void onControlAsync(uv_async_t* async);
    // The STATUS= line for systemd: clients and servers summed over the workers.
    std::string notifyStatus() const;
    // `replacing`: the process named in it is the one being taken over.
    bool writePidfile(bool replacing = false);
    void removePidfile();

    Options options_;
    conn::Snapshot snapshot_;
    pool::PoolRegistry pools_;
    conn::ProcessCounters counters_;
    std::vector<std::unique_ptr<Worker>> workers_;
    uv_loop_t loop_{};  // zeroed: loop_.data (kept by uv_loop_init) tells sockets of a SendBatcher
    std::vector<std::unique_ptr<uv_signal_t>> signals_;
    uv_timer_t timer_;
    uv_timer_t statsTimer_;
    int64_t statsPeriod_ = 0;
    uv_async_t controlWakeup_;
    std::mutex controlMutex_;
    std::vector<std::function<void()>> controlTasks_;
    bool controlClosed_ = false;
    admin::Console console_{*this};
    std::unique_ptr<metrics::HttpEndpoint> http_;
    std::unique_ptr<discovery::HostProber> prober_;
    TimePoint startedAt_ = Clock::now();
    uint64_t reloads_ = 0;
    uint64_t reloadFailures_ = 0;
    Shutdown shutdown_ = Shutdown::None;
    std::string pidfile_;
    int exitCode_ = 0;
    SystemdNotifier notifier_;  // sd_notify; does nothing without $NOTIFY_SOCKET
    uint64_t ticks_ = 0;
    std::unique_ptr<TakeoverSender> takeoverSender_;      // old side of -R: handing over
    // Duplicates of the listening sockets handed over, until the new process has taken everything.
    std::vector<int> keptListeners_, keptHttpListeners_;
    std::unique_ptr<TakeoverReceiver> takeoverReceiver_;  // new side of -R: taking over
};

}  // namespace sluice::server
