#include "discovery/host_prober.h"

#include <fmt/format.h>

#include <cstdlib>

#include "net/host_lookup.h"
#include "proto/builders.h"
#include "proto/codes.h"
#include "proto/header.h"
#include "proto/parse.h"
#include "util/log.h"

namespace sluice::discovery {

namespace {

constexpr uint64_t kTickMillis = 50;
constexpr double kFastInterval = 0.1;       // while a host is down or a cluster has no primary
constexpr uint32_t kMaxProbeMessage = 1u << 20;

// One row: in recovery, default_transaction_read_only, the primary's timeline (from its WAL
// file name; pg_control_checkpoint() lags until the next checkpoint), a standby's replay delay.
constexpr const char* kProbeQuery =
    "SELECT pg_catalog.pg_is_in_recovery(), pg_catalog.current_setting('default_transaction_read_only'), "
    "CASE WHEN pg_catalog.pg_is_in_recovery() THEN 0 ELSE ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name("
    "pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int END, "
    "CASE WHEN NOT pg_catalog.pg_is_in_recovery() OR pg_catalog.pg_last_wal_receive_lsn() = "
    "pg_catalog.pg_last_wal_replay_lsn() THEN 0 ELSE COALESCE(EXTRACT(EPOCH FROM pg_catalog.now() - "
    "pg_catalog.pg_last_xact_replay_timestamp()), 0) END";

}  // namespace

// One probe connection: connect, (TLS,) log in, then one query per probe.
class HostProber::Connection final : public net::SocketOwner {
public:
    enum class State { Connecting, TlsRequest, Login, Ready, Querying, Closing };

    Connection(HostProbe& probe, uv_loop_t* loop) : probe_(probe), loop_(loop), socket_(loop, *this) {}

    void start(const ProbeLogin& login, const ProbeSettings& settings);
    void query();
    void abort(std::string_view reason, bool hostDown);
    State state() const { return state_; }
    TimePoint busySince() const { return busySince_; }

    void onSocketRead(net::IoBuffer& input) override;
    void onSocketEnd(std::string_view reason) override {
        abort(fmt::format("connection closed ({})", reason), true);
    }
    void onSocketConnected(int status) override;
    void onSocketTlsReady() override {
        if (state_ != State::TlsRequest) return;
        state_ = State::Login;
        sendStartup();
    }
    void onSocketClosed() override;

private:
    void connectTo(const sockaddr* address);
    void sendStartup();
    bool handleMessage(char type, const uint8_t* body, size_t size);

    HostProbe& probe_;
    uv_loop_t* loop_;
    net::Socket socket_;
    State state_ = State::Connecting;
    ProbeLogin login_;
    ProbeSettings settings_;
    std::unique_ptr<conn::ServerAuthenticator> authenticator_;
    net::HostLookup lookup_;
    TimePoint busySince_ = Clock::now();
    std::vector<std::optional<std::string>> row_;
    std::optional<proto::ErrorFields> error_;
};

// One host's schedule: when the next probe is due, and its connection.
class HostProber::HostProbe {
public:
    HostProbe(HostProber& prober, std::shared_ptr<HostState> host) : prober_(prober), host_(std::move(host)) {}

    HostState& host() { return *host_; }
    void tick(TimePoint now, bool fast);
    void probeNow() { nextAt_ = {}; }
    void stop() {
        if (connection_) connection_->abort("pooler shutting down", false);
    }
    bool idle() const { return !connection_; }

    // From the connection.
    void answered(Role role, bool readOnly, int64_t timeline, double lag);
    void failed(std::string_view reason, bool hostDown);
    void closed() { connection_.reset(); }

private:
    HostProber& prober_;
    std::shared_ptr<HostState> host_;
    std::unique_ptr<Connection> connection_;
    TimePoint nextAt_{};
    TimePoint queryStarted_{};
    bool fast_ = false;
    bool warnedLogin_ = false;
};

void HostProber::Connection::start(const ProbeLogin& login, const ProbeSettings& settings) {
    login_ = login;
    settings_ = settings;
    busySince_ = Clock::now();
    const config::HostAddress& address = probe_.host().address();
    const bool isUnix = !address.host.empty() && address.host[0] == '/';
    if (socket_.open(isUnix) != 0) {
        probe_.failed("cannot create a socket", false);
        probe_.closed();  // no handle was made: nothing will call back
        return;
    }
    if (isUnix) {
        socket_.connectUnix(probe_.host().describe());
        return;
    }
    sockaddr_storage ss{};
    if (net::parseIpAddress(address.host, address.port, ss)) {
        connectTo(reinterpret_cast<sockaddr*>(&ss));
        return;
    }
    const int rc = lookup_.start(loop_, address.host, address.port, [this](int status, const sockaddr* found) {
        if (status != 0) abort(fmt::format("cannot resolve: {}", uv_strerror(status)), true);
        else connectTo(found);
    });
    if (rc != 0) abort("cannot resolve the host name", true);
}

void HostProber::Connection::connectTo(const sockaddr* address) {
    if (int rc = socket_.connectTcp(address); rc != 0) abort(fmt::format("connect failed: {}", uv_strerror(rc)), true);
}

void HostProber::Connection::onSocketConnected(int status) {
    if (state_ == State::Closing) return;
    if (status != 0) {
        abort(fmt::format("connect failed: {}", uv_strerror(status)), true);
        return;
    }
    socket_.applyTcpOptions(settings_.tcp);
    socket_.startReading(4096);
    if (conn::requestTls(socket_, settings_.tls != nullptr)) {
        state_ = State::TlsRequest;
        return;
    }
    state_ = State::Login;
    sendStartup();
}

void HostProber::Connection::sendStartup() {
    authenticator_ = std::make_unique<conn::ServerAuthenticator>(login_.credentials);
    std::string out;
    proto::appendStartupMessage(out, {{"user", login_.credentials.user},
                                      {"database", login_.dbname},
                                      {"application_name", "sluice host probe"}});
    socket_.write(out);
}

void HostProber::Connection::query() {
    state_ = State::Querying;
    busySince_ = Clock::now();
    row_.clear();
    error_.reset();
    std::string out;
    proto::appendQuery(out, kProbeQuery);
    socket_.write(out);
}

void HostProber::Connection::abort(std::string_view reason, bool hostDown) {
    if (state_ == State::Closing) return;
    state_ = State::Closing;
    probe_.failed(reason, hostDown);
    socket_.close();
}

void HostProber::Connection::onSocketClosed() {
    state_ = State::Closing;
    probe_.closed();  // frees us
}

void HostProber::Connection::onSocketRead(net::IoBuffer& input) {
    while (!input.empty() && state_ != State::Closing) {
        if (state_ == State::TlsRequest && !socket_.isTls()) {
            const char answer = static_cast<char>(input.data()[0]);
            input.consume(1);
            switch (conn::interpretTlsAnswer(answer, settings_.sslmode)) {
                case conn::TlsAnswer::StartTls:
                    if (!input.empty() ||
                        !socket_.startTls(std::make_unique<net::TlsSession>(settings_.tls, probe_.host().address().host,
                                                                            settings_.sslmode == "verify-full")))
                        abort("TLS to the server failed", false);
                    return;
                case conn::TlsAnswer::GoOnPlain:
                    state_ = State::Login;
                    sendStartup();
                    continue;
                case conn::TlsAnswer::Refuse: abort("the server refused TLS", false); return;
            }
        }
        auto header = proto::peekHeader(input.data(), input.size());
        if (!header) return;
        if (header->length < 4 || header->length > kMaxProbeMessage) {
            abort("the server sent a malformed message", false);
            return;
        }
        if (input.size() < header->totalSize()) return;
        const bool goOn = handleMessage(header->type, input.data() + proto::kHeaderSize, header->bodySize());
        input.consume(header->totalSize());
        if (!goOn) return;
    }
}

bool HostProber::Connection::handleMessage(char type, const uint8_t* body, size_t size) {
    switch (type) {
        case proto::msg::kAuthentication: {
            if (state_ != State::Login) break;
            std::string out;
            if (auto status = authenticator_->answer(body, size, out); !status) {
                abort(status.error().message, false);
                return false;
            }
            if (!out.empty()) socket_.write(out);
            return true;
        }
        case proto::msg::kErrorResponse: {
            proto::ErrorFields fields;
            proto::parseErrorOrNotice(body, size, fields);
            if (state_ == State::Login || fields.severity == "FATAL") {
                // Starting up, shutting down, crashed: the host is down. Anything else (a
                // refused login) says nothing of the host.
                abort(fields.message, conn::hostCannotServe(fields.sqlstate));
                return false;
            }
            error_ = std::move(fields);
            return true;
        }
        case proto::msg::kDataRow:
            if (state_ == State::Querying) proto::parseDataRow(body, size, row_);
            return true;
        case proto::msg::kReadyForQuery:
            if (state_ == State::Login) {
                authenticator_.reset();
                query();  // the first probe right away
                return true;
            }
            if (state_ != State::Querying) break;
            state_ = State::Ready;
            if (error_ || row_.size() < 4 || !row_[0] || !row_[1]) {
                abort(error_ ? "probe query failed: " + error_->message : "probe query gave no row", false);
                return false;
            }
            probe_.answered(*row_[0] == "t" ? Role::Standby : Role::Primary, *row_[1] == "on",
                            row_[2] ? std::strtoll(row_[2]->c_str(), nullptr, 10) : 0,
                            row_[3] ? std::strtod(row_[3]->c_str(), nullptr) : 0);
            return true;
        case proto::msg::kParameterStatus:
        case proto::msg::kBackendKeyData:
        case proto::msg::kNoticeResponse:
        case proto::msg::kRowDescription:
        case proto::msg::kCommandComplete:
        case proto::msg::kNegotiateProtocolVersion:
        case proto::msg::kNotificationResponse: return true;
        default: break;
    }
    abort(fmt::format("unexpected message '{}' from the server", type), false);
    return false;
}

void HostProber::HostProbe::tick(TimePoint now, bool fast) {
    fast_ = fast;
    const ProbeSettings& settings = prober_.settings_;
    if (connection_) {
        const auto state = connection_->state();
        const bool busy = state != Connection::State::Ready && state != Connection::State::Closing;
        if (busy && secondsSince(connection_->busySince(), now) >= settings.timeout) {
            // A hung host (stopped, not crashed) keeps its sockets open: only time tells.
            connection_->abort(fmt::format("no answer within host_probe_timeout ({}s)", settings.timeout), true);
            return;
        }
        if (state == Connection::State::Ready && now >= nextAt_) connection_->query();
        return;
    }
    if (now < nextAt_) return;
    auto login = prober_.findLogin_(*host_);
    if (!login) {
        nextAt_ = now + std::chrono::milliseconds(static_cast<int64_t>(settings.interval * 1000));
        return;  // no pool uses the host yet: its servers' logins will tell its role
    }
    host_->setProbing(true);
    connection_ = std::make_unique<Connection>(*this, prober_.loop_);
    connection_->start(*login, settings);
}

void HostProber::HostProbe::answered(Role role, bool readOnly, int64_t timeline, double lag) {
    const TimePoint now = Clock::now();
    const HostView before = host_->view(now);
    const double latency = secondsSince(connection_ ? connection_->busySince() : now, now);
    host_->setProbing(false);
    const bool fenced = role == Role::Primary && prober_.registry_.fences(*host_, timeline);
    // A new timeline may fence another host: that counts as a change too.
    if (host_->reportProbe(role, readOnly, timeline, lag, latency, fenced) || before.timeline != timeline)
        prober_.hostChanged(*host_, before);
    warnedLogin_ = false;
    const double interval = fast_ ? std::min(kFastInterval, prober_.settings_.interval) : prober_.settings_.interval;
    nextAt_ = now + std::chrono::milliseconds(static_cast<int64_t>(interval * 1000));
}

void HostProber::HostProbe::failed(std::string_view reason, bool hostDown) {
    const TimePoint now = Clock::now();
    host_->setProbing(false);
    if (!prober_.running_) return;  // shutting down: nothing to learn from the closed probe
    const ProbeSettings& settings = prober_.settings_;
    if (hostDown) {
        const HostView before = host_->view(now);
        // Down until a probe finds it up again: the next ones come every 100 ms.
        if (host_->reportFailure(settings.interval + settings.timeout)) {
            SLOG_WARN("host {} is down: {}", host_->describe(), reason);
            prober_.hostChanged(*host_, before);
        }
    } else if (!warnedLogin_) {
        warnedLogin_ = true;
        SLOG_WARN("host {} cannot be probed: {}", host_->describe(), reason);
    }
    nextAt_ = now + std::chrono::milliseconds(static_cast<int64_t>(
                        (hostDown ? kFastInterval : settings.interval) * 1000));
}

HostProber::HostProber(uv_loop_t* loop, HostRegistry& registry, FindLogin findLogin, OnChange onChange)
    : loop_(loop), registry_(registry), findLogin_(std::move(findLogin)), onChange_(std::move(onChange)) {}

HostProber::~HostProber() = default;

void HostProber::start() {
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
    uv_timer_start(&timer_, &HostProber::onTimer, kTickMillis, kTickMillis);
    running_ = true;
}

void HostProber::stop() {
    if (!running_) return;
    running_ = false;  // before the probes close: their failures are not the hosts' (failed())
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    for (auto& [host, probe] : probes_) probe->stop();
}

void HostProber::probeNow() {
    for (auto& [host, probe] : probes_) probe->probeNow();
    if (running_ && !uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_)))
        uv_timer_start(&timer_, &HostProber::onTimer, kTickMillis, kTickMillis);
}

void HostProber::onTimer(uv_timer_t* timer) { static_cast<HostProber*>(timer->data)->tick(); }

void HostProber::tick() {
    const HostList probed = registry_.probedHosts();
    if (probed.empty()) {
        // Sleep: no multi-host database has been used, and an idle pooler should not wake 20
        // times a second for nothing. Hosts are only ever added, and adding one calls probeNow().
        uv_timer_stop(&timer_);
        return;
    }
    const TimePoint now = Clock::now();
    // Probe fast where it matters: a cluster without a primary, or a host that is down.
    std::map<HostState*, bool> fast;
    for (const auto& cluster : registry_.clusters()) {
        bool primary = false;
        for (const auto& host : cluster) {
            HostView view = host->view(now);
            primary |= view.role == Role::Primary && view.health == Health::Up && !view.fenced;
        }
        for (const auto& host : cluster) fast[host.get()] = fast[host.get()] || !primary;
    }
    for (const auto& host : probed) {
        auto& probe = probes_[host.get()];
        if (!probe) probe = std::make_unique<HostProbe>(*this, host);
        const bool down = host->view(now).health != Health::Up;
        probe->tick(now, fast[host.get()] || down);
    }
    trackPrimaries();
}

void HostProber::hostChanged(HostState& host, const HostView& before) {
    const HostView now = host.view();
    if (now.role != before.role && now.role != Role::Unknown) {
        ++roleChanges_;
        SLOG_INFO("host {} is now {} (was {})", host.describe(), roleName(now.role), roleName(before.role));
    }
    logFencing(host, before.fenced);
    for (const auto& other : registry_.refreshFencing())
        if (other.get() != &host) logFencing(*other, !other->view().fenced);
    trackPrimaries();
    if (onChange_) onChange_();  // at once: waiting clients get servers on the new primary now
}

void HostProber::logFencing(const HostState& host, bool wasFenced) {
    const HostView view = host.view();
    if (view.fenced == wasFenced) return;
    if (view.fenced)
        SLOG_WARN("host {} claims to be primary on timeline {}, behind another primary: fenced, no server "
                  "connection goes there (split brain?)",
                  host.describe(), view.timeline);
    else
        SLOG_INFO("host {} is no longer fenced", host.describe());
}

void HostProber::trackPrimaries() {
    // One line per change of a cluster's primary, with the time since its first failure.
    for (const auto& cluster : registry_.clusters()) {
        std::vector<config::HostAddress> key;
        for (const auto& host : cluster) key.push_back(host->address());
        std::string& last = primaries_[key];
        if (last.empty()) {
            // A primary known from server logins only and lost before a tick saw it up.
            for (const auto& host : cluster)
                if (host->view().roleBeforeFailure == Role::Primary) last = host->describe();
        }
        for (const auto& host : cluster) {
            HostView view = host->view();
            if (view.role != Role::Primary || view.health != Health::Up || view.fenced) continue;
            const std::string name = host->describe();
            if (name == last) break;
            if (!last.empty()) {
                ++failovers_;
                TimePoint since{};
                for (const auto& other : cluster)
                    if (other->describe() == last) since = other->failingSince();
                if (since != TimePoint{})
                    SLOG_WARN("failover: primary moved from {} to {}, {} ms after the first failure of {}", last, name,
                              static_cast<long>(secondsSince(since) * 1000), last);
                else
                    SLOG_WARN("failover: primary moved from {} to {}", last, name);
            }
            last = name;
            break;
        }
    }
}

}  // namespace sluice::discovery
