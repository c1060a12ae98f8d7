#include "server/server.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "admin/show.h"
#include "admin/show_hosts.h"
#include "metrics/prometheus.h"
#include "server/cpu_count.h"
#include "server/socket_activation.h"
#include "util/log.h"

namespace sluice::server {

namespace {

constexpr uint64_t kControlTickMillis = 100;
// STATUS= for systemd at most this often (in control ticks): `systemctl status` shows it.
constexpr uint64_t kNotifyStatusTicks = 20;

log::Options loggingOptions(const Options& options, const config::Settings& settings) {
    log::Options out;
    out.verbose = std::max<int>(options.verbose, static_cast<int>(settings.verbose));
    out.quiet = options.quiet || options.daemon;
    out.logfile = settings.logfile;
    out.syslog = settings.syslog;
    out.syslogIdent = settings.syslog_ident;
    out.syslogFacility = settings.syslog_facility;
    out.json = settings.log_format == "json";
    return out;
}

Status switchUser(const std::string& name) {
    passwd* pw = getpwnam(name.c_str());
    if (!pw) return Error{fmt::format("could not find user '{}' to switch to", name)};
    if (getuid() == pw->pw_uid) return okStatus();
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
        return Error{fmt::format("could not switch to user '{}': {}", name, std::strerror(errno))};
    return okStatus();
}

Status daemonize() {
    pid_t pid = fork();
    if (pid < 0) return Error{fmt::format("fork failed: {}", std::strerror(errno))};
    if (pid > 0) _exit(0);
    setsid();
    pid = fork();  // never reacquire a controlling terminal
    if (pid < 0) return Error{fmt::format("fork failed: {}", std::strerror(errno))};
    if (pid > 0) _exit(0);
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        if (devnull > 2) ::close(devnull);
    }
    return okStatus();
}

}  // namespace

Server::Server(Options options) : options_(std::move(options)) { uv_loop_init(&loop_); }

Server::~Server() {
    workers_.clear();
    http_.reset();
    // Whatever a failed start left open (signal handles, timers) is closed before the loop.
    uv_walk(
        &loop_, [](uv_handle_t* handle, void*) { if (!uv_is_closing(handle)) uv_close(handle, nullptr); }, nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
}

// The TLS contexts of a snapshot, from its client_tls_* and server_tls_* settings: built anew
// on every load, reload and SET, so changed certificate files apply to new connections.
static Status attachTls(conn::Snapshot& snapshot) {
    const config::Settings& s = snapshot.config->settings;
    auto verifies = [](const std::string& mode) { return mode == "verify-ca" || mode == "verify-full"; };
    conn::Snapshot::Tls client{nullptr, s.client_tls_sslmode,
                               fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|{}", s.client_tls_sslmode, s.client_tls_key_file,
                                           s.client_tls_cert_file, s.client_tls_ca_file, s.client_tls_protocols,
                                           s.client_tls_ciphers, s.client_tls13_ciphers, s.client_tls_ecdhcurve,
                                           s.client_tls_dheparams)};
    conn::Snapshot::Tls server{nullptr, s.server_tls_sslmode,
                               fmt::format("{}|{}|{}|{}|{}|{}|{}", s.server_tls_sslmode, s.server_tls_key_file,
                                           s.server_tls_cert_file, s.server_tls_ca_file, s.server_tls_protocols,
                                           s.server_tls_ciphers, s.server_tls13_ciphers)};
    if (s.client_tls_sslmode != "disable") {
        auto tls = net::TlsContext::create({true, s.client_tls_key_file, s.client_tls_cert_file, s.client_tls_ca_file,
                                            s.client_tls_protocols, s.client_tls_ciphers, s.client_tls13_ciphers,
                                            s.client_tls_ecdhcurve, s.client_tls_dheparams,
                                            verifies(s.client_tls_sslmode)});
        if (!tls) return Error{"client TLS: " + tls.error().message};
        client.context = std::move(tls.value());
    }
    if (s.server_tls_sslmode != "disable") {
        auto tls = net::TlsContext::create({false, s.server_tls_key_file, s.server_tls_cert_file, s.server_tls_ca_file,
                                            s.server_tls_protocols, s.server_tls_ciphers, s.server_tls13_ciphers,
                                            "auto", "auto", verifies(s.server_tls_sslmode)});
        if (!tls) return Error{"server TLS: " + tls.error().message};
        server.context = std::move(tls.value());
    }
    snapshot.clientTls = std::move(client);  // both or neither: a failure leaves the snapshot's as they were
    snapshot.serverTls = std::move(server);
    return okStatus();
}

Result<conn::Snapshot> Server::loadSnapshot() const {
    auto loaded = config::loadConfig(options_.configPath);
    if (!loaded) return loaded.error();
    // SLUICE_<SETTING> wins over the file, at start and at every reload.
    if (auto status = config::applyEnvironmentOverrides(*loaded, config::sluiceEnvironment()); !status)
        return status.error();
    auto config = std::make_shared<const config::Config>(std::move(loaded.value()));
    auto authFile = std::make_shared<auth::AuthFile>();
    if (!config->settings.auth_file.empty()) {
        auto read = auth::loadAuthFile(config->settings.auth_file);
        if (!read) return read.error();
        *authFile = std::move(read.value());
    }
    conn::Snapshot snapshot;
    snapshot.config = config;
    snapshot.authFile = authFile;
    if (auto status = attachTls(snapshot); !status) return status.error();
    if (config->settings.auth_type == "hba") {
        if (config->settings.auth_hba_file.empty()) return Error{"auth_type = hba needs auth_hba_file"};
        auto rules = auth::HbaRules::load(config->settings.auth_hba_file);
        if (!rules) return rules.error();
        snapshot.hba = std::make_shared<const auth::HbaRules>(std::move(rules.value()));
    }
    if (!config->settings.auth_ident_file.empty()) {
        auto maps = auth::IdentMaps::load(config->settings.auth_ident_file);
        if (!maps) return maps.error();
        snapshot.identMaps = std::make_shared<const auth::IdentMaps>(std::move(maps.value()));
    }
    return snapshot;
}

void Server::applyLogging(const config::Settings& settings) const {
    log::configure(loggingOptions(options_, settings));
}

int Server::run() {
    // Before anything is logged: stderr only, at the requested verbosity.
    log::Options early;
    early.verbose = options_.verbose;
    early.quiet = options_.quiet;
    log::configure(early);

    auto loaded = loadSnapshot();
    if (!loaded) {
        SLOG_FATAL("{}", loaded.error().message);
        return 1;
    }
    snapshot_ = loaded.value();
    const config::Settings& settings = snapshot_.config->settings;
    // Configuration warnings ("unknown setting", "not supported yet") and environment overrides
    // go where a person looks later: the log file and syslog, once they are set up below (and
    // stderr unless -q). A daemon also says them on the terminal that starts it, before it leaves.
    auto logConfigNotes = [this] {
        for (const auto& warning : snapshot_.config->warnings) SLOG_WARN("{}", warning);
        for (const auto& note : snapshot_.config->overrides) SLOG_INFO("{}", note);
    };
    if (options_.daemon) logConfigNotes();
    if (options_.daemon && settings.logfile.empty() && !settings.syslog) {
        SLOG_FATAL("running in the background (-d) needs logfile or syslog to be set");
        return 1;
    }
    if (options_.daemon) {
        if (auto status = daemonize(); !status) {
            SLOG_FATAL("{}", status.error().message);
            return 1;
        }
    }
    applyLogging(settings);
    logConfigNotes();
    // After daemonize: the watchdog is for the pid that runs (WATCHDOG_PID), and it sends.
    notifier_ = SystemdNotifier::fromEnvironment();
    if (!notifier_.problem().empty()) SLOG_WARN("systemd notification disabled: {}", notifier_.problem());
    std::string user = !options_.user.empty() ? options_.user : settings.user;
    if (!user.empty()) {
        if (auto status = switchUser(user); !status) {
            SLOG_FATAL("{}", status.error().message);
            return 1;
        }
    }
    if (geteuid() == 0) SLOG_WARN("running as root is not recommended; use -u or the user setting");
    TakeoverReceiver::Listeners takenOver;
    if (options_.reboot && !takeOverFromRunningProcess(takenOver)) return 1;
    if (!writePidfile(takeoverReceiver_ != nullptr)) return 1;

    // Signals first: a SIGHUP that arrives as soon as the port is open must reload, not kill
    // (its default action); libuv queues it until the control loop runs.
    signal(SIGPIPE, SIG_IGN);
    for (int signum : {SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2}) {
        auto handle = std::make_unique<uv_signal_t>();
        uv_signal_init(&loop_, handle.get());
        handle->data = this;
        uv_signal_start(handle.get(), &Server::onSignal, signum);
        signals_.push_back(std::move(handle));
    }
    // Before the pooler's own listeners: whoever sees the pooler port open finds the probes too.
    if (settings.http_listen_port > 0 || !takenOver.http.empty()) {
        auto opened = takenOver.http.empty()
                          ? metrics::HttpEndpoint::open(&loop_, settings.http_listen_addr,
                                                        static_cast<int>(settings.http_listen_port), httpHandler())
                          : metrics::HttpEndpoint::adopt(&loop_, takenOver.http, httpHandler());
        if (!opened) {
            SLOG_FATAL("{}", opened.error().message);
            removePidfile();
            return 1;
        }
        http_ = std::move(opened.value());
        SLOG_INFO("listening on {} (/metrics, /health, /ready)", http_->description());
    }
    // Multi-host databases: the prober watches their hosts from this loop; a worker that sees a
    // connection die asks it to look at once.
    prober_ = std::make_unique<discovery::HostProber>(
        &loop_, pools_.hosts(), [this](const discovery::HostState& host) { return probeLogin(host); },
        [this] { onEveryWorker([](conn::Connections& connections) { connections.hostsChanged(); }); });
    prober_->configure(probeSettings());
    pools_.hosts().onProbeWanted([this] {
        postToControl([this] {
            if (prober_) prober_->probeNow();
        });
    });
    // workers = auto (stored as 0): one per CPU this process may use (cpu_count.h).
    const int wanted = settings.workers > 0 ? static_cast<int>(settings.workers) : availableCpus();
    const int workers = std::clamp<int>(wanted, 1, conn::Connections::kMaxWorkers);
    const bool tookOver = !takenOver.pooler.empty();
    const std::vector<int> passedSockets = tookOver ? takenOver.pooler : takeActivationSockets();
    if (!passedSockets.empty() && !tookOver)
        SLOG_INFO("socket activation: {} socket(s) passed by systemd; listen_addr, listen_port and "
                  "unix_socket_dir are not used to listen", passedSockets.size());
    for (int i = 0; i < workers; ++i) {
        workers_.push_back(std::make_unique<Worker>(i, pools_, counters_, snapshot_));
        // Several workers always share the port; so_reuseport lets another process share it too.
        if (auto status = workers_.back()->listen(settings, workers > 1 || settings.so_reuseport, passedSockets,
                                                  tookOver ? "taken over" : "passed by systemd");
            !status) {
            SLOG_FATAL("{}", status.error().message);
            removePidfile();
            workers_.clear();
            return 1;
        }
    }
    takenOver.closeAll();  // every worker listens on its own duplicates
    uv_async_init(&loop_, &controlWakeup_, &Server::onControlAsync);
    controlWakeup_.data = this;
    for (auto& worker : workers_) {
        worker->setConsoleGateway(this);
        worker->setMesh(this);
    }
    for (auto& worker : workers_) worker->start();
    SLOG_INFO("process up: Sluice {}, {} worker(s)", SLUICE_VERSION, workers);
    if (takeoverReceiver_) receiveTakenOverClients();
    // The listeners accept from here on (they were bound and listening before start()).
    if (options_.daemon) notifier_.send(fmt::format("MAINPID={}\n", getpid()));
    notifier_.ready(notifyStatus());
    if (notifier_.watchdog())
        SLOG_INFO("systemd watchdog: WATCHDOG=1 every {} ms", notifier_.watchdog()->count() / 1000);

    uv_timer_init(&loop_, &timer_);
    timer_.data = this;
    uv_timer_start(&timer_, &Server::onTimer, kControlTickMillis, kControlTickMillis);
    uv_timer_init(&loop_, &statsTimer_);
    statsTimer_.data = this;
    restartStatsTimer();
    prober_->start();

    uv_run(&loop_, UV_RUN_DEFAULT);

    takeoverReceiver_.reset();  // its thread posts nowhere once the control loop is closed
    for (auto& worker : workers_) worker->join();
    workers_.clear();
    removePidfile();
    SLOG_INFO("shutdown complete");
    return exitCode_;
}

void Server::onSignal(uv_signal_t* handle, int signum) {
    auto* self = static_cast<Server*>(handle->data);
    switch (signum) {
        case SIGHUP:
            SLOG_INFO("got SIGHUP, re-reading config");
            if (auto status = self->reload(); !status)
                SLOG_ERROR("reload failed, keeping the current configuration: {}", status.error().message);
            break;
        // PgBouncer's lines: operators and scripts look for them.
        case SIGTERM:
            if (self->shutdown_ != Shutdown::None) {
                SLOG_INFO("got SIGTERM while shutting down, fast exit");
                self->beginShutdown(Shutdown::Immediate);
                break;
            }
            SLOG_INFO("got SIGTERM, shutting down, waiting for all clients disconnect");
            self->beginShutdown(Shutdown::WaitForClients);
            break;
        case SIGINT:
            if (self->shutdown_ != Shutdown::None) {
                SLOG_INFO("got SIGINT while shutting down, fast exit");
                self->beginShutdown(Shutdown::Immediate);
                break;
            }
            SLOG_INFO("got SIGINT, shutting down, waiting for all servers connections to be released");
            self->beginShutdown(Shutdown::WaitForServers);
            break;
        case SIGQUIT:
            SLOG_INFO("got SIGQUIT, fast exit");
            self->beginShutdown(Shutdown::Immediate);
            break;
        case SIGUSR1:
            SLOG_INFO("got SIGUSR1, pausing all activity");
            self->console_.pauseAll();
            break;
        case SIGUSR2:
            if (self->shutdown_ != Shutdown::None) {
                SLOG_INFO("got SIGUSR2 while shutting down, ignoring");
                break;
            }
            SLOG_INFO("got SIGUSR2, resuming all activity");
            self->console_.resumeAll();
            break;
        default: break;
    }
}

Status Server::reload() {
    // RELOADING=1 ... READY=1 brackets the reload for systemd, whether it succeeds or not.
    notifier_.reloading();
    struct ReadyAgain {
        Server& server;
        ~ReadyAgain() { server.notifier_.ready(server.notifyStatus()); }
    } readyAgain{*this};
    auto loaded = loadSnapshot();
    if (!loaded) {
        ++reloadFailures_;
        return loaded.error();
    }
    ++reloads_;
    const auto& oldSettings = snapshot_.config->settings;
    const auto& newSettings = loaded->config->settings;
    for (const auto& def : config::settingTable()) {
        if (def.reloadable) continue;
        std::string before = config::settingValue(oldSettings, def);
        std::string after = config::settingValue(newSettings, def);
        if (before != after)
            SLOG_WARN("setting {} cannot be changed by a reload (from '{}' to '{}'); restart to apply it", def.name,
                      before, after);
    }
    for (const auto& warning : loaded->config->warnings) SLOG_WARN("{}", warning);
    publish(loaded.value());
    return okStatus();
}

void Server::publish(conn::Snapshot snapshot) {
    snapshot_ = std::move(snapshot);
    applyLogging(snapshot_.config->settings);
    if (prober_) prober_->configure(probeSettings());
    for (auto& worker : workers_) {
        conn::Snapshot copy = snapshot_;
        worker->post([copy](conn::Connections& connections) { connections.setSnapshot(copy); });
    }
    restartStatsTimer();
}

Result<std::string> Server::applySetting(std::string_view key, std::string_view value) {
    config::Config changed = *snapshot_.config;
    changed.warnings.clear();
    if (auto status = config::applySetting(changed, key, value, config::ApplyMode::Runtime); !status)
        return status.error();
    for (const auto& warning : changed.warnings) SLOG_WARN("{}", warning);
    // The TLS in use stays unless the new settings build (attachTls).
    conn::Snapshot next{std::make_shared<const config::Config>(std::move(changed)), snapshot_.authFile, snapshot_.hba,
                        snapshot_.identMaps, snapshot_.clientTls, snapshot_.serverTls};
    std::string notice;
    if (auto status = attachTls(next); !status) {
        std::string lower(key);
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower.find("_tls") == std::string::npos) return Error{status.error().message, "22023"};
        // As PgBouncer: the TLS settings are set one at a time (a CA file after the sslmode
        // that needs it), so the value is kept and the TLS in use stays until they fit together.
        SLOG_WARN("TLS settings could not be applied, still using old configuration: {}", status.error().message);
        notice = "TLS settings could not be applied, still using old configuration";
    }
    publish(std::move(next));
    return notice;
}

void Server::shutdown(admin::ShutdownMode mode) {
    switch (mode) {
        case admin::ShutdownMode::Immediate: beginShutdown(Shutdown::Immediate); break;
        case admin::ShutdownMode::WaitForServers: beginShutdown(Shutdown::WaitForServers); break;
        case admin::ShutdownMode::WaitForClients: beginShutdown(Shutdown::WaitForClients); break;
    }
}

void Server::collectReports(std::function<void(std::vector<conn::WorkerReport>)> done) {
    struct Gather {
        std::vector<conn::WorkerReport> reports;
        size_t pending = 0;
        std::function<void(std::vector<conn::WorkerReport>)> done;
    };
    auto gather = std::make_shared<Gather>();
    gather->reports.resize(workers_.size());
    gather->pending = workers_.size();
    gather->done = std::move(done);
    for (size_t i = 0; i < workers_.size(); ++i) {
        workers_[i]->post([this, gather, i](conn::Connections& connections) {
            postToControl([gather, i, report = connections.report()]() mutable {
                gather->reports[i] = std::move(report);
                if (--gather->pending == 0) gather->done(std::move(gather->reports));
            });
        });
    }
}

void Server::onEveryWorker(std::function<void(conn::Connections&)> task) {
    for (auto& worker : workers_) worker->post(task);
}

void Server::reply(const conn::ConsoleRequest& to, std::string bytes, bool closeAfter) {
    if (to.worker < 0 || static_cast<size_t>(to.worker) >= workers_.size()) return;
    workers_[to.worker]->post([id = to.clientId, bytes = std::move(bytes), closeAfter](conn::Connections& connections) {
        connections.deliverConsoleReply(id, bytes, closeAfter);
    });
}

void Server::submit(conn::ConsoleRequest request) {
    postToControl([this, request = std::move(request)] { console_.execute(request); });
}

void Server::postToControl(std::function<void()> task) {
    std::lock_guard lock(controlMutex_);
    if (controlClosed_) return;  // shutting down: nobody is left to answer
    controlTasks_.push_back(std::move(task));
    uv_async_send(&controlWakeup_);
}

void Server::onControlAsync(uv_async_t* async) {
    auto* self = static_cast<Server*>(async->data);
    std::vector<std::function<void()>> tasks;
    {
        std::lock_guard lock(self->controlMutex_);
        tasks.swap(self->controlTasks_);
    }
    for (auto& task : tasks) task();
}

void Server::restartStatsTimer() {
    const int64_t period = std::max<int64_t>(1, snapshot_.config->settings.stats_period);
    if (period == statsPeriod_) return;
    statsPeriod_ = period;
    uv_timer_start(&statsTimer_, &Server::onStatsTimer, static_cast<uint64_t>(period) * 1000,
                   static_cast<uint64_t>(period) * 1000);
}

void Server::onStatsTimer(uv_timer_t* timer) {
    auto* self = static_cast<Server*>(timer->data);
    self->console_.recordStats(self->snapshot_.config->settings.log_stats);
}

void Server::beginShutdown(Shutdown mode) {
    if (shutdown_ == Shutdown::Immediate) return;
    const bool first = shutdown_ == Shutdown::None;
    shutdown_ = mode;
    if (first) notifier_.stopping(notifyStatus());
    for (auto& worker : workers_) {
        Worker* w = worker.get();
        if (mode == Shutdown::Immediate) {
            worker->post([w](conn::Connections&) { w->stop(); });
        } else {
            const bool waitForServers = mode == Shutdown::WaitForServers;
            worker->post([w, waitForServers](conn::Connections& connections) {
                w->closeTcpListeners();
                connections.beginShutdown(waitForServers);
            });
        }
    }
    if (mode == Shutdown::Immediate) {
        if (prober_) prober_->stop();
        for (auto& handle : signals_) uv_close(reinterpret_cast<uv_handle_t*>(handle.get()), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&statsTimer_), nullptr);
        if (http_) http_->close();
        std::lock_guard lock(controlMutex_);
        controlClosed_ = true;
        uv_close(reinterpret_cast<uv_handle_t*>(&controlWakeup_), nullptr);
    }
}

void Server::onTimer(uv_timer_t* timer) {
    auto* self = static_cast<Server*>(timer->data);
    self->checkShutdown();
    if (self->shutdown_ != Shutdown::Immediate) self->console_.tick();
    self->notifier_.tick(Clock::now());
    if (++self->ticks_ % kNotifyStatusTicks == 0) self->notifier_.status(self->notifyStatus());
}

std::string Server::notifyStatus() const {
    size_t clients = 0, servers = 0, active = 0;
    for (const auto& worker : workers_) {
        clients += worker->clientCount();
        servers += worker->serverCount();
        active += worker->activeServerCount();
    }
    const admin::PauseState& pause = console_.pauseState();
    const char* state = shutdown_ != Shutdown::None ? "stopping" : (pause.paused || pause.suspended) ? "paused" : "ready";
    return statusText(clients, servers, active, state);
}

void Server::checkShutdown() {
    if (shutdown_ == Shutdown::None || shutdown_ == Shutdown::Immediate) return;
    size_t clients = 0, activeServers = 0;
    for (auto& worker : workers_) {
        clients += worker->clientCount();
        activeServers += worker->activeServerCount();
    }
    const bool waitingForClients = shutdown_ == Shutdown::WaitForClients;
    if (takeoverSender_ && takeoverSender_->failed()) {
        resumeAfterFailedTakeover();
        return;
    }
    if (waitingForClients ? clients != 0 : activeServers != 0) return;
    if (takeoverSender_) {
        takeoverSender_->finish();  // the new process has every client that could go
        if (!takeoverSender_->finished()) return;
        SLOG_INFO("TAKEOVER: {} client(s) handed over to the new process", takeoverSender_->clientsSent());
    }
    SLOG_INFO(waitingForClients ? "client connections dropped, exiting" : "server connections dropped, exiting");
    beginShutdown(Shutdown::Immediate);
}

metrics::HttpEndpoint::Handler Server::httpHandler() {
    return [this](std::string_view method, std::string_view path, metrics::HttpEndpoint::Respond respond) {
        serveHttp(method, path, std::move(respond));
    };
}

void Server::serveHttp(std::string_view method, std::string_view path, metrics::HttpEndpoint::Respond respond) {
    if (method != "GET" && method != "HEAD") {
        respond({405, "text/plain; charset=utf-8", "only GET and HEAD\n", {{"Allow", "GET, HEAD"}}});
        return;
    }
    if (path == "/health") {
        respond({200, "text/plain; charset=utf-8", "ok\n", {}});  // the control loop answers: alive
    } else if (path == "/ready") {
        serveReady(std::move(respond));
    } else if (path == "/metrics") {
        serveMetrics(std::move(respond));
    } else {
        respond({404, "text/plain; charset=utf-8", "not found; try /metrics, /health or /ready\n", {}});
    }
}

// Ready: accepting clients, not paused or shutting down, and every database that must keep
// servers open (min_pool_size > 0) has at least one, or is failing over within the wait limit.
void Server::serveReady(metrics::HttpEndpoint::Respond respond) {
    auto notReady = [&respond](const std::string& why) { respond({503, "text/plain; charset=utf-8", why + "\n", {}}); };
    if (shutdown_ != Shutdown::None) return notReady("not ready: shutting down");
    const admin::PauseState& pause = console_.pauseState();
    if (pause.paused || pause.suspended) return notReady("not ready: paused");
    collectReports([this, respond](std::vector<conn::WorkerReport> reports) {
        const config::Config& config = *snapshot_.config;
        const auto hostRows = admin::hostRows(config, pools_.hosts());
        // A failover in progress keeps the pooler ready while clients may still wait for it.
        const double waitLimit =
            config.settings.primary_wait_timeout > 0 ? config.settings.primary_wait_timeout : config.settings.query_wait_timeout;
        for (const auto& [name, entry] : config.databases) {
            const int64_t minPool = entry.minPoolSize ? *entry.minPoolSize : config.settings.min_pool_size;
            if (minPool <= 0 || console_.pauseState().disabledDatabases.count(name)) continue;
            // A pool exists from the start with a forced user, else from its first client.
            bool pooled = !entry.user.empty();
            int servers = 0;
            for (const auto& report : reports) {
                for (const auto& pool : report.pools) pooled |= pool.database == name;
                for (const auto& row : report.servers)
                    if (row.database == name && row.state != "new") ++servers;
            }
            if (!pooled) continue;
            if (servers == 0 && !admin::failingOverWithin(hostRows, name, waitLimit)) {
                respond({503, "text/plain; charset=utf-8",
                         fmt::format("not ready: database {} has no server connection (min_pool_size {})\n", name,
                                     minPool),
                         {}});
                return;
            }
        }
        respond({200, "text/plain; charset=utf-8", "ready\n", {}});
    });
}

void Server::serveMetrics(metrics::HttpEndpoint::Respond respond) {
    collectReports([this, respond](std::vector<conn::WorkerReport> reports) {
        const admin::ResultSet pools = admin::showPools(reports);
        const admin::ResultSet stats = console_.stats().metricsStats(reports);
        const auto hostRows = admin::hostRows(*snapshot_.config, pools_.hosts());
        const admin::ResultSet databases =
            admin::showDatabases(reports, *snapshot_.config, console_.pauseState(), admin::hostsInUse(hostRows));
        const admin::ResultSet hosts = admin::showHosts(hostRows);
        metrics::ProcessFacts facts;
        metrics::readProcFacts(facts);
        facts.uptimeSeconds = secondsSince(startedAt_);
        for (const auto& report : reports) {
            facts.clients += static_cast<int>(report.clients.size() + report.loginClients.size());
            facts.servers += static_cast<int>(report.servers.size());
        }
        facts.reloads = reloads_;
        facts.reloadFailures = reloadFailures_;
        facts.paused = console_.pauseState().paused || console_.pauseState().suspended;
        facts.failovers = prober_ ? prober_->failovers() : 0;
        facts.roleChanges = prober_ ? prober_->roleChanges() : 0;
        facts.serverHandOffs = counters_.serverHandOffs.load(std::memory_order_relaxed);
        facts.serverGiveAways = counters_.serverGiveAways.load(std::memory_order_relaxed);
        respond({200, "text/plain; version=0.0.4; charset=utf-8",
                 metrics::prometheusText(
                     {{"pools", &pools}, {"stats", &stats}, {"databases", &databases}, {"hosts", &hosts}}, facts),
                 {}});
    });
}

discovery::ProbeSettings Server::probeSettings() const {
    const config::Settings& s = snapshot_.config->settings;
    discovery::ProbeSettings settings;
    settings.interval = s.host_probe_interval > 0 ? s.host_probe_interval : 1;
    settings.timeout = s.host_probe_timeout > 0 ? s.host_probe_timeout : 3;
    settings.sslmode = snapshot_.serverTls.mode;
    settings.tls = snapshot_.serverTls.context;
    settings.tcp = conn::tcpOptionsFrom(s);
    return settings;
}

std::optional<discovery::ProbeLogin> Server::probeLogin(const discovery::HostState& host) {
    std::optional<discovery::ProbeLogin> login;
    pools_.forEach([&](pool::Pool& pool) {
        if (login) return;
        auto target = pool.target();
        for (const auto& state : target->hostStates) {
            if (state.get() != &host) continue;
            login = discovery::ProbeLogin{{target->serverUser, target->serverPassword, pool.scramKeys()}, target->dbname};
            return;
        }
    });
    return login;
}

bool Server::writePidfile(bool replacing) {
    pidfile_ = snapshot_.config->settings.pidfile;
    if (pidfile_.empty()) return true;
    if (std::ifstream existing(pidfile_); existing && !replacing) {
        long pid = 0;
        if (existing >> pid && pid > 0 && kill(static_cast<pid_t>(pid), 0) == 0) {
            SLOG_FATAL("pidfile {} exists and process {} is running", pidfile_, pid);
            pidfile_.clear();
            return false;
        }
    }
    std::ofstream out(pidfile_, std::ios::trunc);
    if (!out || !(out << getpid() << "\n")) {
        SLOG_FATAL("cannot write pidfile {}", pidfile_);
        pidfile_.clear();
        return false;
    }
    return true;
}

void Server::removePidfile() {
    if (!pidfile_.empty()) ::unlink(pidfile_.c_str());
}

}  // namespace sluice::server
