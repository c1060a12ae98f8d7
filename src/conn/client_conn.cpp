// ClientConn, part one: the connection's life — startup packet and TLS negotiation, login
// parameters, waiting for and linking to a server, forwarding, release points, timeouts, close.
// Authentication is in client_auth.cpp, the admin console in client_console.cpp.
#include "conn/client_conn.h"

#include "config/value_parse.h"

#include <limits>
#include <unistd.h>

#include <fmt/format.h>

#include "auth/crypto_util.h"
#include "auth/secret.h"
#include "conn/connections.h"
#include "conn/server_conn.h"
#include "conn/startup_options.h"
#include "conn/tracked_params.h"
#include "proto/builders.h"
#include "proto/codes.h"
#include "proto/header.h"
#include "proto/parse.h"
#include "proto/sql_words.h"
#include "util/log.h"

namespace sluice::conn {

namespace {

// Past this much output queued toward a slow server, stop reading its client (backpressure).
constexpr size_t kHighWater = 256u << 10;

// A welcome's bytes up to its AuthenticationOk, in a string made at the whole welcome's size:
// grown message by message it was made again six times.
std::string beginWelcome(const pool::ServerParams& params) {
    size_t size = 9 + 13 + 6;  // AuthenticationOk, BackendKeyData, ReadyForQuery
    for (const auto& [name, value] : params.entries()) size += 7 + name.size() + value.size();
    std::string out;
    out.reserve(size);
    proto::appendAuthenticationOk(out);
    return out;
}

}  // namespace

ClientConn::ClientConn(Connections& connections, uint64_t id)
    : connections_(connections),
      socket_(connections.loop(), *this),
      id_(id),
      login_(std::make_unique<Login>()),
      connectedAt_(Clock::now()) {}

ClientConn::~ClientConn() = default;

std::string ClientConn::describe() const {
    return fmt::format("C-{}: {}/{}@{}", id_, database_.empty() ? "(nodb)" : database_,
                       user_.empty() ? "(nouser)" : user_, peer_.toString());
}

void ClientConn::namePeer() {
    peer_ = socket_.isUnix() ? net::PeerAddress::unixSocket(static_cast<int>(connections_.settings().listen_port))
                             : net::PeerAddress(socket_.peerSockaddr());
}

bool ClientConn::accept(uv_stream_t* listener) {
    if (socket_.acceptFrom(listener) != 0) return false;
    namePeer();
    const auto& settings = connections_.settings();
    socket_.applyTcpOptions(connections_.tcpOptions());
    connections_.counters().clients.fetch_add(1, std::memory_order_relaxed);
    counted_ = true;
    socket_.startReading(static_cast<size_t>(settings.pkt_buf));
    return true;
}

void ClientConn::onSocketRead(net::IoBuffer& input) {
    lastActivityUs_ = uv_now(connections_.loop()) * 1000;
    connections_.watch(*this);
    readInput(input);
    // Outside a linked request (logging in, idle, console) an emptied buffer goes back at once;
    // see releaseServerIfDone.
    if (state_ != State::Active && state_ != State::Closing) socket_.input().release();
}

void ClientConn::readInput(net::IoBuffer& input) {
    while (!input.empty()) {
        switch (state_) {
            case State::Startup:
                if (!handleStartup(input)) return;
                break;
            case State::Auth:
                if (!handleAuthMessage(input)) return;
                break;
            case State::Idle: handleIdle(input); return;
            case State::Active: forwardToServer(input); return;
            case State::Console: handleConsole(input); return;
            case State::ConsoleBusy:
            case State::WaitWelcome:
            case State::Waiting:
            case State::Linking:
                // Keep what came; it goes to the server once one is linked. Reading goes on up
                // to a packet buffer's worth, so a queued client costs no epoll_ctl calls to stop
                // and restart it and its hang-up is seen at once, while one that floods the
                // pooler is held back.
                if (input.size() >= static_cast<size_t>(connections_.settings().pkt_buf)) socket_.stopReading();
                return;
            case State::Canceling:
            case State::Closing: input.consume(input.size()); return;
        }
    }
}

bool ClientConn::handleStartup(net::IoBuffer& input) {
    // PostgreSQL 17's direct TLS: a TLS ClientHello (record type 22) instead of a startup packet.
    if (!socket_.isTls() && input.data()[0] == 0x16) {
        if (!connections_.clientTls() || socket_.isUnix()) {
            close("direct TLS connection, but TLS is not enabled (client_tls_sslmode)");
            return false;
        }
        directTls_ = true;
        beginTls();
        return false;
    }
    proto::StartupPacket packet;
    proto::ParseError error;
    size_t consumed = 0;
    auto status = proto::parseStartupPacket(input.data(), input.size(),
                                            static_cast<uint32_t>(connections_.settings().max_packet_size), packet,
                                            consumed, error);
    if (status == proto::ParseStatus::NeedMore) return false;
    if (status == proto::ParseStatus::Error) {
        closeWithError(error.sqlstate, error.message);
        return false;
    }
    input.consume(consumed);
    switch (packet.kind) {
        case proto::StartupKind::SslRequest:
            // TLS arrives with the authentication work; until then, say no and let the client go on in clear.
            if (sslAnswered_) {
                closeWithError(proto::sqlstate::kProtocolViolation, "SSLRequest sent twice");
                return false;
            }
            sslAnswered_ = true;
            if (connections_.clientTls() && !socket_.isUnix()) {
                socket_.write("S", 1);
                beginTls();
                return false;
            }
            socket_.write("N", 1);
            return true;
        case proto::StartupKind::GssEncRequest:
            if (gssAnswered_) {
                closeWithError(proto::sqlstate::kProtocolViolation, "GSSENCRequest sent twice");
                return false;
            }
            gssAnswered_ = true;
            socket_.write("N", 1);
            return true;
        case proto::StartupKind::CancelRequest:
            // The protocol gives a cancel connection no answer either way; it is closed when the
            // cancel is done, which may be at once.
            if (connections_.settings().log_connections) SLOG_DEBUG("{} cancel request", describe());
            state_ = State::Canceling;
            connections_.cancel(packet.cancelPid, packet.cancelKey, *this);
            return false;
        case proto::StartupKind::Startup: startLogin(packet); return state_ != State::Closing;
    }
    return false;
}

void ClientConn::beginTls() {
    if (!socket_.startTls(std::make_unique<net::TlsSession>(connections_.clientTls()))) {
        close(fmt::format("TLS handshake failed: {}", socket_.tls()->error()));
        return;
    }
}

void ClientConn::onSocketTlsReady() {
    // Direct TLS must have negotiated ALPN "postgresql" (PostgreSQL 17's rule against
    // cross-protocol attacks); after an SSLRequest ALPN is optional.
    if (directTls_ && socket_.tls()->alpn() != "postgresql")
        close("direct TLS connection without ALPN \"postgresql\"");
}

void ClientConn::startLogin(proto::StartupPacket& packet) {
    const auto& settings = connections_.settings();
    user_ = *packet.find("user");
    database_ = *packet.find("database");
    const std::string& tlsMode = connections_.clientTlsMode();
    if ((tlsMode == "require" || tlsMode == "verify-ca" || tlsMode == "verify-full") && !socket_.isTls() &&
        !socket_.isUnix()) {
        closeWithError(proto::sqlstate::kInvalidAuthorizationSpecification,
                       fmt::format("SSL required (client_tls_sslmode = {})", tlsMode));
        return;
    }
    if (counted_ && connections_.counters().clients.load(std::memory_order_relaxed) > settings.max_client_conn) {
        closeWithError(proto::sqlstate::kTooManyConnections, "no more connections allowed (max_client_conn)");
        return;
    }
    if (!connections_.acceptingLogins() && !config::isConsoleDatabase(database_)) {  // the console stays open
        closeWithError(proto::sqlstate::kProtocolViolation, "pooler is shutting down",
                       "Only the admin console takes new logins until the pooler exits.");
        return;
    }
    if (const std::string* replication = packet.find("replication")) {
        // As PostgreSQL reads it; PgBouncer's words for the server ("yes" / "database").
        std::optional<bool> physical = config::parseBoolean(*replication);
        if (*replication == "database") {
            replication_ = Replication::Logical;
        } else if (!physical) {
            closeWithError(proto::sqlstate::kInvalidParameterValue,
                           fmt::format("invalid value for parameter \"replication\": \"{}\"", *replication),
                           "Valid values are: \"false\", 0, \"true\", 1, \"database\".");
            return;
        } else if (*physical) {
            replication_ = Replication::Physical;
        }
    }
    for (const auto& [name, value] : packet.params) {
        if (name == "user" || name == "database") continue;
        if (replication_ != Replication::None) {
            // A replication connection has its own server: every parameter goes there as it came
            // (application_name names a synchronous standby; options may carry anything).
            login_->replicationStartup.emplace_back(name, name == "replication" ? replicationWord() : value);
            continue;
        }
        if (isTrackedParameter(name, settings)) {
            wanted_.set(name, value);
        } else if (name == "options") {
            // As PgBouncer 1.25: "-c name=value" for tracked parameters is honoured; any other
            // setting needs its name, or "options", in ignore_startup_parameters.
            auto options = parseStartupOptions(value);
            if (!options) {
                closeWithError(options.error().sqlstate, options.error().message);
                return;
            }
            for (const auto& [option, optionValue] : options.value()) {
                if (isTrackedParameter(option, settings)) {
                    wanted_.set(option, optionValue);
                } else if (!listContains(settings.ignore_startup_parameters, option) &&
                           !listContains(settings.ignore_startup_parameters, "options")) {
                    SLOG_WARN("{} unsupported startup parameter in options: {}={}", describe(), option, optionValue);
                    closeWithError(proto::sqlstate::kProtocolViolation,
                                   fmt::format("unsupported startup parameter in options: {}", option));
                    return;
                }
            }
        } else if (listContains(settings.ignore_startup_parameters, name)) {
            continue;
        } else {
            closeWithError(proto::sqlstate::kProtocolViolation, fmt::format("unsupported startup parameter: {}", name));
            return;
        }
    }
    if (settings.application_name_add_host && !socket_.isUnix()) {
        // PgBouncer's format, so log parsers that split it keep working.
        const std::string* given = wanted_.find("application_name");
        wanted_.set("application_name", fmt::format("{} - {}", given ? *given : std::string(), peer_.toString()));
    }
    if (packet.minor > 0 || !packet.protocolOptions.empty()) {
        std::string out;
        proto::appendNegotiateProtocolVersion(out, 0, packet.protocolOptions);
        socket_.write(out);
    }
    console_ = config::isConsoleDatabase(database_);
    if (settings.log_connections)
        SLOG_INFO("{} login attempt: db={} user={} tls={} replication={}", describe(), database_, user_,
                  socket_.isTls() ? socket_.tls()->describe() : "no", replicationWord());
    // An unknown or disabled database is refused after authentication (authenticated()).
    if (auto it = connections_.authFile().find(user_); it != connections_.authFile().end()) {
        login_->secret = it->second;
        login_->hasSecret = true;
    }
    if (console_ && user_ == "pgbouncer" && socket_.isUnix()) {
        // PgBouncer's rule: the pooler's own unix user gets in as "pgbouncer" without a password.
        auto credentials = socket_.peerCredentials();
        if (credentials && credentials->first == ::getuid()) {
            adminUser_ = true;
            if (settings.log_connections) SLOG_INFO("{} pgbouncer access from unix socket", describe());
            authenticated();
            return;
        }
    }
    if (wantsSecretLookup()) {
        lookUpSecret();
        return;
    }
    startAuthentication();
}

bool ClientConn::sendWelcomeFromCache() {
    const pool::ServerParams* defaults = shard_->serverDefaults();
    if (!defaults) return false;
    // Written straight from the cache: copying it first was seven allocations per login.
    std::string out = beginWelcome(*defaults);
    for (const auto& [name, initial] : defaults->entries()) {
        const std::string* own = wanted_.find(name);
        if (!own || *own == initial) {
            proto::appendParameterStatus(out, name, initial);
            continue;
        }
        auto normalized = shard_->pool().normalizedValue(name, *own);
        if (!normalized) return false;
        wanted_.set(name, *normalized);
        proto::appendParameterStatus(out, name, *normalized);
    }
    finishWelcome(out);
    return true;
}

void ClientConn::sendWelcome(const pool::ServerParams& serverParams) {
    std::string out = beginWelcome(serverParams);
    for (const auto& [name, value] : serverParams.entries()) proto::appendParameterStatus(out, name, value);
    finishWelcome(out);
}

void ClientConn::finishWelcome(std::string& out) {
    startup_.reset();  // wanted_ is what the client connected with
    proto::appendBackendKeyData(out, cancelPid_, cancelKey_);
    proto::appendReadyForQuery(out, 'I');
    socket_.write(out);
}

void ClientConn::handleIdle(net::IoBuffer& input) {
    auto header = proto::peekHeader(input.data(), input.size());
    if (!header) return;
    if (header->type == proto::msg::kTerminate) {
        close("client close request");
        return;
    }
    if (header->type == proto::msg::kQuery && connections_.settings().disable_pqexec) {
        closeWithError(proto::sqlstate::kProtocolViolation, "PQexec disallowed");
        return;
    }
    if (transactionLost_) {
        while (transactionLost_ && answerLostTransaction(input)) {
        }
        if (transactionLost_ || input.empty() || state_ != State::Idle) return;
        handleIdle(input);
        return;
    }
    if (header->type == proto::msg::kParse && answersPreparesItself()) {
        std::string answer;
        const size_t answered = answerParsesLocally(input.data(), input.size(), connections_.statementCatalog(),
                                                    preparedStatements(), answer, shard_->stats.clientParses);
        if (answered > 0) {
            input.consume(answered);
            socket_.write(answer);
            if (!input.empty()) handleIdle(input);
            return;
        }
    }
    state_ = State::Waiting;
    requestServer();
}

bool ClientConn::answersPreparesItself() const {
    return connections_.settings().max_prepared_statements > 0 && shard_ &&
           shard_->target().mode != pool::PoolMode::Session;
}

void ClientConn::requestServer() {
    if (connections_.refusingServers()) {  // SHUTDOWN WAIT_FOR_SERVERS: no new transaction
        closeWithError(proto::sqlstate::kProtocolViolation, "server shutting down");
        return;
    }
    // Reading goes on, also while queued: stopping and restarting it would cost two epoll_ctl
    // calls per transaction. Bytes that arrive meanwhile wait in the buffer (readInput).
    waitNoticed_ = false;  // a new wait, if it must wait: query_wait_notify may speak again
    pool::Acquired acquired = shard_->acquire(*this);
    if (acquired.server) onServerAvailable(*acquired.server);
    else if (acquired.error) onServerUnavailable(*acquired.error);
}

void ClientConn::onServerAvailable(pool::PooledServer& pooled) {
    auto& server = static_cast<ServerConn&>(pooled);
    if (lookupShard()) {
        runSecretLookup(server);
        return;
    }
    const bool welcomePending = state_ == State::WaitWelcome;
    linkingForWelcome_ = welcomePending;
    state_ = State::Linking;
    server_ = &server;
    server.link(*this);
    server.prepareFor(*this, [this, welcomePending](const std::optional<Error>& error) {
        ServerConn* linked = server_;
        if (error) {
            // The server failed its check: drop it and ask again.
            server_ = nullptr;
            linked->unlink();
            linked->close("server check failed: " + error->message);
            state_ = welcomePending ? State::WaitWelcome : State::Waiting;
            requestServer();
            return;
        }
        ParameterChanges changes = linked->inSyncWith(wanted_) ? ParameterChanges{} : parameterChanges(linked->params());
        auto finish = [this, welcomePending]() {
            server_->markSyncedWith(wanted_);
            if (welcomePending) sendWelcome(server_->params());
            serverLinked();
        };
        if (changes.empty()) {
            finish();
            return;
        }
        linked->runQuery(setStatements(changes), [this, finish, changes](const std::optional<Error>& syncError) {
            if (syncError) {
                closeWithError(syncError->sqlstate, "could not set client parameters on server: " + syncError->message);
                return;
            }
            parametersApplied(*server_, changes);
            finish();
        });
    });
}

void ClientConn::checkTimeouts(uint64_t nowUs) {
    auto over = [nowUs](uint64_t since, double limitSeconds) {
        return limitSeconds > 0 && since != 0 && nowUs > since && static_cast<double>(nowUs - since) >= limitSeconds * 1e6;
    };
    // A client quiet for a second gives its read buffer back even while it holds a server
    // (session mode, the console); one without a server already did (releaseServerIfDone).
    if (state_ != State::Closing && over(lastActivityUs_, kKeepBufferSeconds)) socket_.input().release();
    const pool::PoolTarget* target = shard_ ? &shard_->target() : nullptr;
    switch (state_) {
        case State::Startup:
        case State::Auth:
            if (secondsSince(connectedAt_) >= connections_.settings().client_login_timeout &&
                connections_.settings().client_login_timeout > 0)
                closeWithError(proto::sqlstate::kProtocolViolation, "client_login_timeout");
            return;
        case State::Waiting:
        case State::WaitWelcome: {
            if (!target) return;
            if (state_ == State::Waiting) noticeLongWait();
            // As PgBouncer: a client that logged in while the pool had no server yet still counts
            // as logging in, and query_timeout counts from the request, queued time included.
            const double loginTimeout = connections_.settings().client_login_timeout;
            if (state_ == State::WaitWelcome && loginTimeout > 0 && secondsSince(connectedAt_) >= loginTimeout) {
                closeWithError(proto::sqlstate::kProtocolViolation, "client_login_timeout (server down)");
                return;
            }
            if (target->queryTimeout > 0 && secondsSince(waitingSince) >= target->queryTimeout) {
                closeWithError(proto::sqlstate::kProtocolViolation, "query_timeout");
                return;
            }
            // While no host of a multi-host database qualifies (a failover in progress), clients
            // may wait longer for one: primary_wait_timeout.
            const bool forHost = shard_->waitingForHost();
            const double limit = forHost && target->primaryWaitTimeout > 0 ? target->primaryWaitTimeout
                                                                           : target->queryWaitTimeout;
            if (limit <= 0 || secondsSince(waitingSince) < limit) return;
            std::string detail =
                forHost ? fmt::format("No host of database \"{}\" qualifies for target_session_attrs={}.", database_,
                                      discovery::sessionAttrsName(target->sessionAttrs))
                        : shard_->lastConnectFailure().empty()
                              ? std::string()
                              : "The last server connection attempt failed: " + shard_->lastConnectFailure();
            closeWithError(proto::sqlstate::kProtocolViolation, "query_wait_timeout", detail);
            return;
        }
        case State::Idle:
            if (target && over(lastActivityUs_, target->clientIdleTimeout))
                closeWithError(proto::sqlstate::kIdleSessionTimeout, "client_idle_timeout");
            return;
        case State::Active: {
            if (!target || !server_) return;
            const bool busy = readyPending_ > 0 || extendedOpen_ || !server_->answeredAll();
            const bool inTransaction = server_->transactionStatus() != 'I';
            if (busy && readyPending_ > 0 && over(requestUs_, target->queryTimeout)) {
                closeServerAndClient(proto::sqlstate::kQueryCanceled, "query timeout");
            } else if (inTransaction && over(transactionUs_, target->transactionTimeout)) {
                closeServerAndClient(proto::sqlstate::kTransactionTimeout, "transaction timeout");
            } else if (!busy && inTransaction && over(readyUs_, target->idleTransactionTimeout)) {
                closeServerAndClient(proto::sqlstate::kIdleInTransactionSessionTimeout, "idle transaction timeout");
            } else if (!busy && !inTransaction && target->mode == pool::PoolMode::Session &&
                       connections_.settings().server_fast_close && !shard_->isCurrent(*server_)) {
                // A reload changed this database: PgBouncer's server_fast_close ends the session
                // between transactions instead of waiting for the client to leave.
                closeServerAndClient(proto::sqlstate::kAdminShutdown, "database configuration changed (server_fast_close)");
            } else if (!busy && !inTransaction && over(std::max(lastActivityUs_, readyUs_), target->clientIdleTimeout)) {
                closeWithError(proto::sqlstate::kIdleSessionTimeout, "client_idle_timeout");
            }
            return;
        }
        default: return;
    }
}

bool ClientConn::quiet() const {
    return state_ == State::Idle && socket_.bufferedInput() == 0 && shard_ && shard_->target().clientIdleTimeout <= 0;
}

void ClientConn::noticeLongWait() {
    const int64_t notifyAfter = connections_.settings().query_wait_notify;
    if (notifyAfter <= 0 || waitNoticed_) return;
    // PgBouncer compares whole seconds waited, so the NOTICE comes a little after the setting.
    if (static_cast<int64_t>(secondsSince(waitingSince)) <= notifyAfter) return;
    waitNoticed_ = true;
    std::string out;
    proto::appendNoticeResponse(out, "NOTICE", "00000",
                                "No server connection available in postgres backend, client being queued");
    socket_.write(out);
}

// The server's state is unknown after a timeout mid-request: it is closed, never reused.
void ClientConn::closeServerAndClient(std::string_view sqlstate, std::string_view reason) {
    if (server_) {
        ServerConn* server = server_;
        server_ = nullptr;
        server->unlink();
        server->close(reason);
    }
    closeWithError(sqlstate, reason);
}

void ClientConn::cancelWhileWaiting() {
    if (state_ != State::Waiting) return;
    shard_->cancelWait(*this);
    net::IoBuffer& input = socket_.input();
    auto header = proto::peekHeader(input.data(), input.size());
    // A lone simple query can be answered as PostgreSQL would; anything else (a pipeline, a
    // partial message) cannot be resynchronized, so the session ends.
    if (header && header->type == proto::msg::kQuery && input.size() == header->totalSize()) {
        input.consume(input.size());
        std::string out;
        proto::appendErrorResponse(out, "ERROR", proto::sqlstate::kQueryCanceled, "canceling statement due to user request");
        proto::appendReadyForQuery(out, 'I');
        socket_.write(out);
        state_ = State::Idle;
        socket_.startReading(static_cast<size_t>(connections_.settings().pkt_buf));
        return;
    }
    closeWithError(proto::sqlstate::kQueryCanceled, "canceling statement due to user request");
}

void ClientConn::cancelAnswered(CancelOutcome outcome) {
    switch (outcome) {
        case CancelOutcome::Delivered: close("successfully sent cancel request"); break;
        case CancelOutcome::Failed: close("could not send cancel request to the server"); break;
        case CancelOutcome::TimedOut: close("cancel_wait_timeout"); break;
        case CancelOutcome::UnknownKey: close("failed cancel request"); break;
        case CancelOutcome::IdleClient: close("cancel request for idle client"); break;
        case CancelOutcome::TtlExhausted: close("failed to forward cancel request because its TTL was exhausted"); break;
        case CancelOutcome::UnknownPeer: close("could not find peer to forward request to"); break;
    }
}

void ClientConn::dedicatedServerReady(ServerConn& server) {
    login_.reset();  // its server's login was the end of its own
    server_ = &server;
    server.link(*this);
    sendWelcome(server.params());  // the walsender's own parameters
    serverLinked();
}

void ClientConn::onServerUnavailable(const Error& error) {
    if (login_) login_->dedicatedServer = nullptr;
    if (lookupShard()) {
        login_->lookupShard = nullptr;
        closeWithError(error.sqlstate.empty() ? "08006" : error.sqlstate,
                       "authentication query failed: " + error.message);
        return;
    }
    closeWithError(error.sqlstate.empty() ? "08006" : error.sqlstate, error.message, error.detail);
}

ParameterChanges ClientConn::parameterChanges(const pool::ServerParams& serverParams) const {
    ParameterChanges changes;
    for (const auto& [name, value] : wanted_.entries()) {
        const std::string* current = serverParams.find(name);
        if (!current || *current != value) changes.emplace_back(name, value);
    }
    // What the client never chose, it expects at the value servers start with.
    const pool::ServerParams* defaults = shard_->serverDefaults();
    if (!defaults) return changes;
    for (const auto& [name, current] : serverParams.entries()) {
        if (wanted_.find(name) || !isTrackedParameter(name, connections_.settings())) continue;
        const std::string* initial = defaults->find(name);
        if (initial && *initial != current) changes.emplace_back(name, *initial);
    }
    return changes;
}

void ClientConn::parametersApplied(ServerConn& server, const ParameterChanges& changes) {
    for (const auto& [name, requested] : changes) {
        const std::string* reported = server.params().find(name);
        if (!reported) {
            // Not a reported parameter: remember what we set, as the server will not say.
            server.rememberParameter(name, requested);
            continue;
        }
        // The server's spelling ("ISO" → "ISO, MDY") is what the client sees from now on, and
        // what the next welcome for the same request can say without asking a server.
        shard_->pool().rememberNormalized(name, requested, *reported);
        if (wanted_.find(name)) wanted_.set(name, *reported);
    }
}

void ClientConn::serverLinked() {
    state_ = State::Active;
    pool::PoolStats& stats = shard_->stats;
    ++stats.serverAssignments;
    if (waitingSince != TimePoint{}) {
        stats.waitMicros += static_cast<uint64_t>(secondsSince(waitingSince) * 1e6);
        waitingSince = TimePoint{};
    }
    readyPending_ = 0;
    extendedOpen_ = false;
    socket_.startReading(static_cast<size_t>(connections_.settings().pkt_buf));
    if (!socket_.input().empty()) forwardToServer(socket_.input());
    else releaseServerIfDone();  // linked only to learn the welcome parameters
}

void ClientConn::countRequest(char type) {
    if (readyPending_ == 0 && !extendedOpen_) {
        // One clock read per request, not per message: it times the query, its transaction and
        // the timeouts.
        requestUs_ = nowMicros();
        if (transactionUs_ == 0) transactionUs_ = requestUs_;  // a transaction starts with its first request
    }
    switch (type) {
        case proto::msg::kQuery:
        case proto::msg::kFunctionCall: ++readyPending_; break;
        case proto::msg::kSync:
            ++readyPending_;
            extendedOpen_ = false;
            break;
        case proto::msg::kParse:
        case proto::msg::kBind:
        case proto::msg::kDescribe:
        case proto::msg::kExecute:
        case proto::msg::kClose:
        case proto::msg::kFlush: extendedOpen_ = true; break;
        default: break;  // CopyData/CopyDone/CopyFail belong to a request already counted
    }
}

void ClientConn::serverReadyForQuery(char status) {
    if (readyPending_ > 0) --readyPending_;
    readyUs_ = nowMicros();
    if (shard_) {
        pool::PoolStats& stats = shard_->stats;
        ++stats.queries;
        if (requestUs_ != 0 && readyUs_ > requestUs_) stats.queryMicros += readyUs_ - requestUs_;
        if (status == 'I' && transactionUs_ != 0) {
            ++stats.transactions;
            if (readyUs_ > transactionUs_) stats.transactionMicros += readyUs_ - transactionUs_;
        }
    }
    if (readyPending_ > 0) requestUs_ = readyUs_;  // the next request in the pipeline starts now
    if (status == 'I') transactionUs_ = readyPending_ > 0 ? readyUs_ : 0;
    if (state_ != State::Active || !server_) return;
    if (shard_->target().mode == pool::PoolMode::Statement && status != 'I' && replication_ == Replication::None) {
        ServerConn* server = server_;
        server_ = nullptr;
        server->unlink();
        server->close("transaction blocks not allowed in statement pooling mode");
        closeWithError(proto::sqlstate::kProtocolViolation, "transaction blocks not allowed in statement pooling mode");
        return;
    }
    releaseServerIfDone();
}

// The release point (DESIGN §2): transaction mode when the server is idle outside a transaction
// with nothing more owed; statement mode the same (a transaction block is refused above).
void ClientConn::releaseServerIfDone() {
    // A replication connection keeps its own server, whatever the pool mode.
    if (!server_ || replication_ != Replication::None) return;
    if (readyPending_ > 0 || extendedOpen_ || streaming() || !server_->readyForQuery()) return;
    if (shard_->target().mode == pool::PoolMode::Session) {
        connections_.handOverAtRest(*this);  // a session keeps its server; in an online restart both go
        return;
    }
    ServerConn* server = server_;
    server_ = nullptr;
    state_ = State::Idle;
    server->releaseFromClient(connections_.settings().server_reset_query_always);
    socket_.startReading(static_cast<size_t>(connections_.settings().pkt_buf));
    if (!socket_.input().empty() && state_ == State::Idle) handleIdle(socket_.input());
    // A client without a server keeps no read buffer (freed only if nothing is buffered): idle
    // clients cost little, at one allocation per transaction, never per message.
    if (state_ == State::Idle) {
        socket_.input().release();
        connections_.handOverAtRest(*this);
    }
}

void ClientConn::forwardToServer(net::IoBuffer& input) {
    const uint8_t* data = input.data();
    const size_t size = input.size();
    const uint32_t maxPacket = static_cast<uint32_t>(connections_.settings().max_packet_size);
    PreparedRelay* relay = server_->preparedRelay();
    if (relay && relay->holdsClient()) {  // a batch is about to be sent again; this waits for it
        socket_.stopReading();
        return;
    }
    size_t pos = 0;
    size_t sent = 0;  // what is before this went to the server
    bool terminate = false;
    while (pos < size) {
        if (messageRemaining_ > 0) {
            size_t take = std::min<size_t>(messageRemaining_, size - pos);
            pos += take;
            messageRemaining_ -= static_cast<uint32_t>(take);
            if (discarding_) sent = pos;
            continue;
        }
        auto header = proto::peekHeader(data + pos, size - pos);
        if (!header) break;
        if (relay && relay->readsWhole(header->type) && !proto::headerIsValid(*header, maxPacket) &&
            proto::headerIsValid(*header, std::numeric_limits<uint32_t>::max())) {
            // A Parse, Bind, Describe or Close the pooler would have to hold whole, larger than
            // max_packet_size but a possible message: refused, its batch failed as PostgreSQL
            // fails one on an error; the session goes on.
            server_->sendFromClient(data + sent, pos - sent);
            std::string error, refusal;
            proto::appendErrorResponse(error, "ERROR", proto::sqlstate::kProgramLimitExceeded,
                                       "message too large (max_packet_size)",
                                       fmt::format("The '{}' message has {} bytes; max_packet_size is {}.",
                                                   header->type, header->totalSize(), maxPacket));
            relay->refuse(std::move(error), refusal);
            server_->sendFromClient(reinterpret_cast<const uint8_t*>(refusal.data()), refusal.size());
            messageRemaining_ = header->totalSize();
            discarding_ = true;
            continue;
        }
        if (!proto::headerIsValid(*header, maxPacket)) {
            server_->sendFromClient(data + sent, pos - sent);
            input.consume(pos);
            closeWithError(proto::sqlstate::kProtocolViolation,
                           header->length < 4 ? "invalid message length" : "message too large (max_packet_size)");
            return;
        }
        if (header->type == proto::msg::kTerminate) {
            terminate = true;
            break;
        }
        if (header->type == proto::msg::kQuery && connections_.settings().disable_pqexec) {
            server_->sendFromClient(data + sent, pos - sent);
            input.consume(pos);
            closeWithError(proto::sqlstate::kProtocolViolation, "PQexec disallowed");
            return;
        }
        const bool sqlStatement =
            relay && header->type == proto::msg::kQuery &&
            PreparedRelay::mayBePreparedSql(data + pos + proto::kHeaderSize, size - pos - proto::kHeaderSize) !=
                PreparedRelay::Maybe::No;
        if (relay && (relay->readsWhole(header->type) || sqlStatement)) {
            // Parse, Bind, Describe, Close, and PREPARE/EXECUTE/DEALLOCATE queries: whole
            // (max_packet_size bounds them), renamed; in a recorded batch Execute and Sync.
            if (size - pos < header->totalSize()) break;
            std::string rewritten;
            const uint8_t* body = data + pos + proto::kHeaderSize;
            const auto outcome =
                sqlStatement ? relay->fromClientQuery(body, header->bodySize(), server_->transactionStatus(),
                                                      preparedStatements(), rewritten)
                             : relay->fromClient(header->type, body, header->bodySize(), preparedStatements(), rewritten);
            if (outcome == PreparedRelay::Outcome::Malformed) {
                server_->sendFromClient(data + sent, pos - sent);
                input.consume(pos);
                closeWithError(proto::sqlstate::kProtocolViolation,
                               fmt::format("invalid message format ('{}' message)", header->type));
                return;
            }
            if (outcome == PreparedRelay::Outcome::Unchanged) {  // streams on with the rest
                countRequest(header->type);
                pos += header->totalSize();
                continue;
            }
            server_->sendFromClient(data + sent, pos - sent);
            server_->sendFromClient(reinterpret_cast<const uint8_t*>(rewritten.data()), rewritten.size());
            countRequest(header->type);
            pos += header->totalSize();
            sent = pos;
            continue;
        }
        if (relay) relay->forwarded(header->type);
        countRequest(header->type);
        messageRemaining_ = header->totalSize();
        discarding_ = false;
    }
    server_->sendFromClient(data + sent, pos - sent);
    shard_->stats.bytesReceived += pos;
    input.consume(pos);
    if (terminate) {
        close("client close request");
        return;
    }
    if (server_->socket().queuedBytes() > kHighWater) socket_.stopReading();
    // Answers the pooler owes with nothing of the server's before them (Parse + Flush, a
    // DEALLOCATE); last, since one may be the release point.
    if (relay && !server_->midMessage() && relay->hasDue()) deliverPoolerAnswers(*relay);
}

void ClientConn::deliverPoolerAnswers(PreparedRelay& relay) {
    std::string answers;
    std::vector<char> readies;
    relay.takeDue(answers, readies);
    if (!answers.empty()) sendFromServer(reinterpret_cast<const uint8_t*>(answers.data()), answers.size());
    for (char status : readies) serverReadyForQuery(status);  // may release the server
}

void ClientConn::sendFromServer(const uint8_t* data, size_t size) {
    shard_->stats.bytesSent += size;
    socket_.write(data, size);
}

bool ClientConn::serverParameterChanged(std::string_view name, std::string_view value) {
    // The client changed it (SET): from now on that is the value it expects on any server.
    if (!isTrackedParameter(name, connections_.settings())) return false;
    if (const std::string* current = wanted_.find(name); !startup_ && (!current || *current != value))
        startup_ = std::make_unique<pool::ServerParams>(wanted_);  // the startup values part ways
    wanted_.set(name, value);
    // RESET, RESET ALL, SET … TO DEFAULT and DISCARD ALL bring a parameter back to what the
    // server connection started with; the client expects what it connected with instead.
    const std::string* mine = startupParams().find(name);
    if (!mine || *mine == value) return false;
    const pool::ServerParams* defaults = shard_->serverDefaults();
    const std::string* initial = defaults ? defaults->find(name) : nullptr;
    return initial && *initial == value;
}

std::string ClientConn::restoreStartupParameters(const std::vector<std::string>& names) {
    ParameterChanges changes;
    for (const auto& name : names)
        if (const std::string* value = startupParams().find(name)) changes.emplace_back(name, *value);
    socket_.stopReading();  // nothing of the client's may reach the server before the restore
    return setStatements(changes);
}

bool ClientConn::awaitsOnlyOneReady() const { return readyPending_ == 1 && !extendedOpen_ && !streaming(); }

void ClientConn::serverLost(const Error& error, bool midMessage) {
    ServerConn* lostServer = server_;
    server_ = nullptr;
    if (state_ == State::Linking) {
        // Its check or parameter sync failed with the server: nothing of the client's was sent.
        state_ = linkingForWelcome_ ? State::WaitWelcome : State::Waiting;
        requestServer();
        return;
    }
    const bool pooled = shard_ && shard_->target().mode != pool::PoolMode::Session;
    if (state_ != State::Active || !pooled || !lostServer || midMessage || extendedOpen_ || streaming()) {
        closeWithError(error.sqlstate.empty() ? proto::sqlstate::kConnectionFailure : error.sqlstate, error.message);
        return;
    }
    // Each request the server owed an answer fails, as a direct connection would report it,
    // except that the client is still connected and its next transaction runs elsewhere.
    const bool inBlock = lostServer->transactionStatus() != 'I';
    const char status = inBlock ? 'E' : 'I';
    std::string out;
    for (uint32_t i = 0; i < readyPending_; ++i) {
        proto::appendErrorResponse(out, "ERROR", proto::sqlstate::kConnectionFailure,
                                   "server connection lost: " + error.message,
                                   inBlock ? "The transaction was rolled back; end it with ROLLBACK."
                                           : "The statement may not have completed.",
                                   "This connection is still usable.");
        proto::appendReadyForQuery(out, status);
    }
    if (!out.empty()) socket_.write(out);
    SLOG_INFO("{} server connection lost ({}); {} request(s) failed, the client stays", describe(), error.message,
              readyPending_);
    transactionLost_ = inBlock;
    readyPending_ = 0;
    transactionUs_ = 0;
    state_ = State::Idle;
    socket_.startReading(static_cast<size_t>(connections_.settings().pkt_buf));
    if (!socket_.input().empty()) readInput(socket_.input());
    else connections_.handOverAtRest(*this);
}

bool ClientConn::answerLostTransaction(net::IoBuffer& input) {
    auto header = proto::peekHeader(input.data(), input.size());
    if (!header || input.size() < header->totalSize()) return false;
    std::string_view sql;
    if (header->type != proto::msg::kQuery ||
        !proto::parseQuery(input.data() + proto::kHeaderSize, header->bodySize(), sql)) {
        closeWithError(proto::sqlstate::kConnectionFailure,
                       "server connection lost during a transaction; reconnect to go on");
        return false;
    }
    std::string out;
    if (proto::endsTransactionBlock(sql)) {
        transactionLost_ = false;
        proto::appendCommandComplete(out, "ROLLBACK");
        proto::appendReadyForQuery(out, 'I');
    } else {
        proto::appendErrorResponse(out, "ERROR", proto::sqlstate::kInFailedTransaction,
                                   "current transaction is aborted, commands ignored until end of transaction block");
        proto::appendReadyForQuery(out, 'E');
    }
    input.consume(header->totalSize());
    socket_.write(out);
    return true;
}

void ClientConn::resumeReading() {
    if (state_ != State::Active || socket_.isReading() || !server_ || server_->state() != ServerConn::State::Active)
        return;
    socket_.startReading(static_cast<size_t>(connections_.settings().pkt_buf));
    if (!socket_.input().empty()) forwardToServer(socket_.input());
}

void ClientConn::resumeAfterSuspend() {
    switch (state_) {
        case State::Startup:
        case State::Auth:
        case State::Idle:
        case State::Active:
        case State::Console: socket_.startReading(static_cast<size_t>(connections_.settings().pkt_buf)); break;
        default: break;
    }
}

void ClientConn::onSocketDrained() {
    if (server_) server_->resumeReading();
}

void ClientConn::onSocketEnd(std::string_view reason) {
    close(reason == "EOF" ? "client unexpected eof" : fmt::format("client connection error: {}", reason));
}

void ClientConn::closeWithError(std::string_view sqlstate, std::string_view message, std::string_view detail) {
    if (state_ == State::Closing) return;
    std::string out;
    proto::appendErrorResponse(out, "FATAL", sqlstate, message, detail);
    socket_.write(out);
    close(message);
    // PgBouncer's line for every error the pooler itself sends a client, after "closing because".
    if (connections_.settings().log_pooler_errors) SLOG_WARN("{} pooler error: {}", describe(), message);
}

void ClientConn::close(std::string_view reason) {
    if (state_ == State::Closing) return;
    const State previous = state_;
    state_ = State::Closing;
    if (connections_.settings().log_disconnections && previous != State::Startup)
        SLOG_INFO("{} closing because: {} (age={}s)", describe(), reason, static_cast<long>(secondsSince(connectedAt_)));
    else if (connections_.settings().log_pooler_errors && previous == State::Startup)
        SLOG_INFO("{} closing because: {} (age={}s)", describe(), reason, static_cast<long>(secondsSince(connectedAt_)));
    leave(previous);
    socket_.close();
}

void ClientConn::leave(State previous) {
    if (shard_) shard_->cancelWait(*this);
    if (pool::PoolShard* lookup = lookupShard()) lookup->cancelWait(*this);
    if (server_) {
        ServerConn* server = server_;
        server_ = nullptr;
        server->releaseFromClient(true);
    }
    if (login_ && login_->dedicatedServer) std::exchange(login_->dedicatedServer, nullptr)->forgetDedicatedClient();
    if (cancelRegistered_) connections_.unregisterCancelKey(*this);
    if (previous == State::Canceling) connections_.forgetCancelRequester(*this);
    if (console_) connections_.unregisterConsoleClient(*this);
    if (admitted_) {
        connections_.releaseClient(*shard_, user_);
        admitted_ = false;
    }
    if (counted_) {
        connections_.counters().clients.fetch_sub(1, std::memory_order_relaxed);
        counted_ = false;
    }
}

void ClientConn::onSocketClosed() { connections_.destroy(*this); }

}  // namespace sluice::conn
