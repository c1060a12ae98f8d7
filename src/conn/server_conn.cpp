#include "conn/server_conn.h"

#include <fmt/format.h>

#include "conn/client_conn.h"
#include "conn/connections.h"
#include "conn/server_login.h"
#include "conn/worker_report.h"
#include "proto/builders.h"
#include "proto/codes.h"
#include "proto/header.h"
#include "proto/parse.h"
#include "util/log.h"

namespace sluice::conn {

namespace {

// Messages the pooler reads whole from a server outside a client's session stay small; anything
// bigger means the server and the pooler disagree about the protocol.
constexpr uint32_t kMaxInternalMessage = 16u << 20;
// Past this much output queued toward a slow client, stop reading its server (backpressure).
constexpr size_t kHighWater = 256u << 10;

Error errorFromFields(const proto::ErrorFields& fields) {
    std::string message = fields.message;
    if (!fields.detail.empty()) message += " (" + fields.detail + ")";
    return Error{message, fields.sqlstate.empty() ? std::string(proto::sqlstate::kConnectionFailure) : fields.sqlstate};
}

}  // namespace

ServerConn::ServerConn(Connections& connections, pool::PoolShard& shard, uint64_t id, size_t hostIndex)
    : connections_(connections),
      shard_(shard),
      socket_(connections.loop(), *this),
      id_(id),
      host_(shard.target().hostStates.at(hostIndex)),
      name_("S-" + std::to_string(id)),
      connectedAt_(Clock::now()) {
    this->hostIndex = hostIndex;
    host_->serverOpened();
}

ServerConn::ServerConn(Connections& connections, pool::PoolShard& shard, size_t hostIndex, HandedServer& handed)
    : connections_(connections),
      shard_(shard),
      socket_(connections.loop(), *this),
      id_(handed.id),
      host_(handed.host),
      state_(State::Idle),
      name_("S-" + std::to_string(handed.id)),
      address_(std::move(handed.address)),
      cancelTarget_(std::move(handed.cancelTarget)),
      params_(std::move(handed.params)),
      backendPid_(handed.backendPid),
      backendKey_(handed.backendKey),
      readyForQuery_(true),
      servedClient_(handed.servedClient),
      connectedAt_(handed.connectedAt),
      statements_(std::move(handed.statements)) {
    this->hostIndex = hostIndex;
    host_->serverOpened();
}

void ServerConn::adopt(net::DetachedStream stream) {
    const int rc = socket_.adopt(std::move(stream));
    shard_.serverHandedIn(*this);
    if (rc != 0) {
        close(fmt::format("cannot take over a server from another worker: {}", uv_strerror(rc)));
        return;
    }
    socket_.startReading(static_cast<size_t>(connections_.settings().pkt_buf));
    shard_.serverReady(*this);  // to the client that asked for it, or idle
}

std::unique_ptr<HandedServer> ServerConn::handOff() {
    if (state_ != State::Idle || client_ || dedicated() || cancelsInFlight_ > 0 || !readyForQuery() ||
        !shard_.isCurrent(*this))
        return nullptr;
    std::optional<net::DetachedStream> stream = socket_.detach();
    if (!stream) return nullptr;
    auto handed = std::make_unique<HandedServer>(HandedServer{std::move(*stream), id_, host_, address_, cancelTarget_,
                                                              params_, backendPid_, backendKey_, connectedAt_,
                                                              servedClient_, std::move(statements_)});
    // Off this worker without a goodbye: the connection lives on over there. The handle's
    // close (detach started it) frees this object.
    state_ = State::Closing;
    slotGivenAway = true;
    shard_.serverGone(*this);
    lookup_.cancel();
    return handed;
}

ServerConn::~ServerConn() { host_->serverClosed(); }

std::string ServerConn::describe() const {
    return fmt::format("{}: {}/{}@{}", name_, shard_.pool().database(), shard_.pool().user(), address_);
}

void ServerConn::forgetDedicatedClient() {
    dedicatedTo_ = nullptr;
    close("replication client was closed");
}

void ServerConn::dedicate(ClientConn& client, std::string replication,
                          std::vector<std::pair<std::string, std::string>> startup) {
    dedicatedTo_ = &client;
    replication_ = std::move(replication);
    clientStartup_ = std::move(startup);
}

void ServerConn::connect() {
    const config::HostAddress& target = host_->address();
    if (!dedicated()) shard_.serverLaunched(*this);  // a dedicated one holds no pool slot
    const bool isUnix = !target.host.empty() && target.host[0] == '/';
    address_ = host_->describe();
    if (int rc = socket_.open(isUnix); rc != 0) {
        // No handle to close: the caller (Connections::launchServer) frees us on seeing Closing.
        SLOG_ERROR("{} cannot create a socket: {}", describe(), uv_strerror(rc));
        shard_.serverGone(*this);
        state_ = State::Closing;
        return;
    }
    if (isUnix) {
        cancelTarget_.unixPath = address_;
        socket_.connectUnix(address_);
        return;
    }
    sockaddr_storage ss{};
    if (net::parseIpAddress(target.host, target.port, ss)) {
        startConnect(reinterpret_cast<sockaddr*>(&ss));
        return;
    }
    const int rc = lookup_.start(connections_.loop(), target.host, target.port, [this](int status, const sockaddr* found) {
        if (status != 0) lookupFailed(status);
        else startConnect(found);
    });
    if (rc != 0) lookupFailed(rc);
}

void ServerConn::lookupFailed(int status) {
    // PgBouncer's lines: a warning naming the host, and the close reason operators grep for.
    const std::string& host = host_->address().host;
    SLOG_WARN("DNS lookup failed: {}: {}", host, uv_strerror(status));
    connectFailed(fmt::format("cannot resolve {}: {}", host, uv_strerror(status)), "server DNS lookup failed");
}

void ServerConn::startConnect(const sockaddr* address) {
    std::memcpy(&cancelTarget_.address, address,
                address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
    int rc = socket_.connectTcp(address);
    if (rc != 0) connectFailed(fmt::format("connect failed: {}", uv_strerror(rc)));
}

void ServerConn::onSocketConnected(int status) {
    if (state_ == State::Closing) return;
    if (status != 0) {
        connectFailed(fmt::format("connect failed: {}", uv_strerror(status)));
        return;
    }
    const auto& settings = connections_.settings();
    socket_.applyTcpOptions(connections_.tcpOptions());
    if (settings.log_connections)
        SLOG_INFO("{} new connection to server (from {})", describe(), socket_.localAddress());
    socket_.startReading(static_cast<size_t>(settings.pkt_buf));
    // server_tls_sslmode other than disable: ask for TLS first, as libpq does.
    if (requestTls(socket_, connections_.serverTls() != nullptr)) {
        state_ = State::TlsRequest;
        return;
    }
    state_ = State::Login;
    sendStartup();
}

void ServerConn::handleTlsAnswer(net::IoBuffer& input) {
    const char answer = static_cast<char>(input.data()[0]);
    input.consume(1);
    const std::string& mode = connections_.serverTlsMode();
    switch (interpretTlsAnswer(answer, mode)) {
        case TlsAnswer::StartTls: {
            if (!input.empty()) {
                // Bytes after 'S' before our ClientHello: someone in the middle (CVE-2021-23222).
                loginFailed(Error{"server sent data after accepting TLS", std::string(proto::sqlstate::kProtocolViolation)});
                return;
            }
            const std::string& host = host_->address().host;
            if (!socket_.startTls(std::make_unique<net::TlsSession>(connections_.serverTls(), host,
                                                                      mode == "verify-full"))) {
                loginFailed(Error{"TLS to the server failed: " + socket_.tls()->error(),
                                  std::string(proto::sqlstate::kConnectionFailure)});
            }
            return;  // the handshake goes on in the socket; onSocketTlsReady sends the startup packet
        }
        case TlsAnswer::GoOnPlain:
            state_ = State::Login;
            sendStartup();
            return;
        case TlsAnswer::Refuse: break;
    }
    loginFailed(Error{answer == 'N' ? fmt::format("server does not accept TLS (server_tls_sslmode = {})", mode)
                                    : "server answered the SSLRequest with neither S nor N",
                      std::string(proto::sqlstate::kConnectionFailure)});
}

void ServerConn::onSocketTlsReady() {
    if (state_ != State::TlsRequest) return;
    state_ = State::Login;
    sendStartup();
}

void ServerConn::sendStartup() {
    const pool::PoolTarget& target = shard_.target();
    std::vector<std::pair<std::string, std::string>> params = {{"user", target.serverUser},
                                                               {"database", target.dbname}};
    for (const auto& [name, value] : target.startupParameters) params.emplace_back(name, value);
    for (const auto& [name, value] : clientStartup_) params.emplace_back(name, value);  // later ones win
    std::string out;
    proto::appendStartupMessage(out, params);
    socket_.write(out);
}

void ServerConn::onSocketRead(net::IoBuffer& input) {
    while (!input.empty() && state_ != State::Closing) {
        if (state_ == State::TlsRequest) {
            if (socket_.isTls()) {  // a server's message before the handshake ended: not TLS-level
                close("server sent data during the TLS handshake");
                return;
            }
            handleTlsAnswer(input);
            continue;
        }
        if (state_ == State::Active) {
            // Each pass stops at a ReadyForQuery; pipelined answers behind it go in the next pass.
            const size_t before = input.size();
            forwardToClient(input);
            if (input.size() == before || !socket_.isReading()) return;  // need more, or backpressure
            continue;
        }
        if (!processWholeMessages(input)) return;
    }
}

// Handles one whole message in the states where the pooler itself is the server's peer.
// Returns false when more bytes are needed.
bool ServerConn::processWholeMessages(net::IoBuffer& input) {
    auto header = proto::peekHeader(input.data(), input.size());
    if (!header) return false;
    if (header->length < 4 || header->length > kMaxInternalMessage) {
        close(fmt::format("server sent a malformed message (type '{}', length {})", header->type, header->length));
        return false;
    }
    if (input.size() < header->totalSize()) return false;
    const uint8_t* body = input.data() + 5;
    size_t bodySize = header->bodySize();
    switch (state_) {
        case State::Login: handleLoginMessage(header->type, body, bodySize); break;
        case State::Internal: handleInternalMessage(header->type, body, bodySize); break;
        case State::Idle:
        case State::BeingCanceled: {
            std::string_view name, value;
            if (header->type == proto::msg::kParameterStatus && proto::parseParameterStatus(body, bodySize, name, value)) {
                noteParameter(name, value);
            } else if (header->type == proto::msg::kErrorResponse) {
                proto::ErrorFields fields;
                proto::parseErrorOrNotice(body, bodySize, fields);
                lost(errorFromFields(fields));
            } else if (header->type != proto::msg::kNoticeResponse &&
                       header->type != proto::msg::kNotificationResponse) {
                close(fmt::format("server sent unexpected message '{}' while idle", header->type));
            }
            break;
        }
        default: close("server sent data in an unexpected state"); break;
    }
    input.consume(header->totalSize());
    return true;
}

void ServerConn::handleLoginMessage(char type, const uint8_t* body, size_t size) {
    switch (type) {
        case proto::msg::kAuthentication: handleAuthRequest(body, size); break;
        case proto::msg::kParameterStatus: {
            std::string_view name, value;
            if (proto::parseParameterStatus(body, size, name, value)) noteParameter(name, value);
            break;
        }
        case proto::msg::kBackendKeyData: proto::parseBackendKeyData(body, size, backendPid_, backendKey_); break;
        case proto::msg::kErrorResponse: {
            proto::ErrorFields fields;
            proto::parseErrorOrNotice(body, size, fields);
            if (hostCannotServe(fields.sqlstate)) connectFailed(fmt::format("server refused the login: {}", fields.message));
            else loginRefused(fields);
            break;
        }
        case proto::msg::kReadyForQuery: loginDone(); break;
        case proto::msg::kNoticeResponse:
        case proto::msg::kNegotiateProtocolVersion: break;
        default: loginFailed(Error{fmt::format("server sent unexpected message '{}' during login", type),
                                   std::string(proto::sqlstate::kProtocolViolation)});
    }
}

void ServerConn::handleAuthRequest(const uint8_t* body, size_t size) {
    if (!authenticator_) {
        const pool::PoolTarget& target = shard_.target();
        authenticator_ = std::make_unique<ServerAuthenticator>(
            ServerCredentials{target.serverUser, target.serverPassword, shard_.pool().scramKeys()});
    }
    std::string out;
    if (auto status = authenticator_->answer(body, size, out); !status) {
        // The pooler's own reason reaches clients as PgBouncer words it: "server login failed: …".
        const Error& why = status.error();
        loginFailed(why, Error{"server login failed: " + why.message, why.sqlstate, why.detail});
        return;
    }
    if (!out.empty()) socket_.write(out);
}

void ServerConn::loginFailed(const Error& error, const Error& told) {
    if (state_ == State::Closing) return;
    SLOG_WARN("{} server login failed: {}{}{}", describe(), error.message, error.detail.empty() ? "" : ": ",
              error.detail);
    reportLoginFailure(told);
    close("server login failed: " + error.message);
}

void ServerConn::reportLoginFailure(const Error& told) {
    if (!dedicated()) {
        shard_.serverLoginFailed(*this, told);
        return;
    }
    if (ClientConn* client = std::exchange(dedicatedTo_, nullptr)) client->onServerUnavailable(told);
}

void ServerConn::loginRefused(const proto::ErrorFields& fields) {
    if (state_ == State::Closing) return;
    if (dedicated()) {
        // PgBouncer's lines for a replication login, which fails for reasons of its own (no
        // REPLICATION role, no replication line in pg_hba.conf) that say nothing of the pool's
        // other logins. The client still learns the server's reason, in the DETAIL.
        SLOG_ERROR("S: login failed: {}: {}", fields.severity, fields.message);
        ClientConn* client = std::exchange(dedicatedTo_, nullptr);
        close("login failed");  // the server's line first, then the client's, as PgBouncer logs them
        if (client)
            client->onServerUnavailable(
                Error{"login failed", std::string(proto::sqlstate::kProtocolViolation), fields.message});
        return;
    }
    // PgBouncer's words, which operators grep for: "server login failed: FATAL <text>", then
    // "closing because: <text>" with the server's own message.
    SLOG_WARN("{} server login failed: {} {}", describe(), fields.severity, fields.message);
    reportLoginFailure(errorFromFields(fields));
    close(fields.message);
}

void ServerConn::connectFailed(std::string_view reason, std::string_view closeReason) {
    if (state_ == State::Closing) return;
    const double retry = connections_.settings().server_login_retry;
    if (host_->reportFailure(retry))
        SLOG_WARN("{} host {} is down ({}); no new connections there for {}s or until a probe finds it up",
                  describe(), host_->describe(), reason, retry);
    connections_.hosts().requestProbe();
    shard_.noteConnectFailure(fmt::format("{}: {}", host_->describe(), reason));
    // Waiting clients stay queued (PoolShard::serverGone launches elsewhere); a replication
    // client has only this server.
    if (dedicated()) reportLoginFailure(Error{fmt::format("server connection failed: {}", reason),
                                              std::string(proto::sqlstate::kConnectionFailure)});
    close(closeReason.empty() ? reason : closeReason);
}

void ServerConn::lost(const Error& error) {
    if (state_ == State::Closing) return;
    connections_.hosts().requestProbe();  // a crash, a shutdown, a failover? the prober looks now
    lostError_ = error;
    close(client_ ? fmt::format("server connection lost: {}", error.message)
                  : fmt::format("server sent an error while idle: {}", error.message));
}

void ServerConn::noteParameter(std::string_view name, std::string_view value) {
    params_.set(name, value);
    // PostgreSQL 14+ reports in_hot_standby; it turns off when the standby is promoted.
    if (name == "in_hot_standby" && state_ != State::Login && shard_.target().multiHost()) {
        const std::string* readOnly = params_.find("default_transaction_read_only");
        host_->reportRole(value == "on" ? discovery::Role::Standby : discovery::Role::Primary,
                          readOnly && *readOnly == "on");
    }
}

void ServerConn::checkRole() {
    const std::string* standby = params_.find("in_hot_standby");
    if (standby) {
        const std::string* readOnly = params_.find("default_transaction_read_only");
        roleKnown(*standby == "on" ? discovery::Role::Standby : discovery::Role::Primary, readOnly && *readOnly == "on");
        return;
    }
    // Before PostgreSQL 14 the role is not reported: ask, as libpq does.
    runQueryForRows("SELECT pg_catalog.pg_is_in_recovery()::text, pg_catalog.current_setting('transaction_read_only')",
                    [this](const std::optional<Error>& error, Rows rows) {
                        if (error || rows.empty() || rows[0].size() < 2 || !rows[0][0] || !rows[0][1]) {
                            loginFailed(Error{"could not learn the server's role: " +
                                                  (error ? error->message : std::string("no answer")),
                                              std::string(proto::sqlstate::kConnectionFailure)});
                            return;
                        }
                        roleKnown(*rows[0][0] == "true" ? discovery::Role::Standby : discovery::Role::Primary,
                                  *rows[0][1] == "on");
                    });
}

void ServerConn::roleKnown(discovery::Role role, bool readOnly) {
    host_->reportRole(role, readOnly);
    const auto attrs = shard_.target().sessionAttrs;
    if (!discovery::roleMatches(attrs, role, readOnly) || !shard_.isCurrent(*this) || !shard_.preferredHost(*this)) {
        SLOG_INFO("{} host {} is a {}{}; {} wants target_session_attrs={}: trying another host", describe(),
                  host_->describe(), discovery::roleName(role), readOnly ? " (read-only)" : "",
                  shard_.pool().database(), discovery::sessionAttrsName(attrs));
        close("server role does not match target_session_attrs");
        return;
    }
    runConnectQuery();
}

void ServerConn::loginDone() {
    authenticator_.reset();
    readyForQuery_ = true;
    txStatus_ = 'I';
    if (dedicated()) {  // no role check, connect_query or parameter sync: a walsender takes no SQL
        state_ = State::Idle;
        if (ClientConn* client = std::exchange(dedicatedTo_, nullptr)) client->dedicatedServerReady(*this);
        return;
    }
    if (!shard_.serverDefaults()) shard_.pool().setServerDefaults(params_);
    state_ = State::Idle;  // out of Login: later ParameterStatus messages are live changes
    if (shard_.target().multiHost()) {
        checkRole();
        return;
    }
    runConnectQuery();
}

void ServerConn::runConnectQuery() {
    const std::string& connectQuery = shard_.target().connectQuery;
    if (connectQuery.empty()) {
        becomeReady();
        return;
    }
    runQuery(connectQuery, [this](const std::optional<Error>& error) {
        if (error) loginFailed(Error{"connect_query failed: " + error->message, error->sqlstate});
        else becomeReady();
    });
}

void ServerConn::becomeReady() {
    state_ = State::Idle;
    shard_.serverReady(*this);  // may hand us straight to a waiting client
}

void ServerConn::runQueryForRows(std::string sql, std::function<void(const std::optional<Error>&, Rows)> done) {
    runQuery(std::move(sql), [this, done = std::move(done)](const std::optional<Error>& error) {
        collectRows_ = false;
        done(error, std::move(rows_));
    });
    collectRows_ = true;
    rows_.clear();
}

void ServerConn::runQuery(std::string sql, QueryDone done, char expectedStatus) {
    state_ = State::Internal;
    queryExpectedStatus_ = expectedStatus;
    queryError_.reset();
    queryDone_ = std::move(done);
    readyForQuery_ = false;
    std::string out;
    proto::appendQuery(out, sql);
    socket_.write(out);
    SLOG_NOISE("{} internal query: {}", describe(), sql);
}

void ServerConn::handleInternalMessage(char type, const uint8_t* body, size_t size) {
    switch (type) {
        case proto::msg::kErrorResponse: {
            proto::ErrorFields fields;
            proto::parseErrorOrNotice(body, size, fields);
            if (!queryError_) queryError_ = errorFromFields(fields);
            break;
        }
        case proto::msg::kParameterStatus: {
            std::string_view name, value;
            if (proto::parseParameterStatus(body, size, name, value)) noteParameter(name, value);
            break;
        }
        case proto::msg::kReadyForQuery: {
            char status = 'I';
            proto::parseReadyForQuery(body, size, status);
            txStatus_ = status;
            readyForQuery_ = true;
            state_ = client_ ? State::Active : State::Idle;
            QueryDone done = std::move(queryDone_);
            queryDone_ = nullptr;
            std::optional<Error> error = std::move(queryError_);
            queryError_.reset();
            if (!error && status != queryExpectedStatus_)
                error = Error{fmt::format("internal query left the server in transaction state '{}'", status), "25000"};
            if (done) done(error);
            break;
        }
        case proto::msg::kCopyInResponse:
            close("internal query started COPY FROM STDIN");
            break;
        case proto::msg::kDataRow:
            if (collectRows_ && rows_.size() < 16) {  // an auth_query answers one row
                std::vector<std::optional<std::string>> row;
                if (proto::parseDataRow(body, size, row)) rows_.push_back(std::move(row));
            }
            break;
        default: break;  // rows, notices, command tags of internal queries are not for anyone
    }
}

void ServerConn::link(ClientConn& client) {
    client_ = &client;
    state_ = State::Active;
    streamRemaining_ = 0;
    const int64_t capacity = connections_.settings().max_prepared_statements;
    if (capacity <= 0 || shard_.target().mode == pool::PoolMode::Session || dedicated()) {
        relay_.reset();
    } else if (!relay_) {
        relay_ = std::make_unique<PreparedRelay>(connections_.statementCatalog(), statements_,
                                                 static_cast<size_t>(capacity), shard_.stats);
    } else {
        relay_->setCapacity(static_cast<size_t>(capacity));
        relay_->reset();
    }
}

void ServerConn::unlink() {
    client_ = nullptr;
    if (state_ == State::Active) state_ = State::Idle;
}

void ServerConn::prepareFor(ClientConn& client, QueryDone done) {
    (void)client;
    const auto& settings = connections_.settings();
    // As PgBouncer: checked when it rested server_check_delay since a client last used it (with 0,
    // before every reuse); one no client has used since its login only once it rested the delay,
    // so never a server that has just logged in.
    const bool rested = idleSince != TimePoint{} && secondsSince(idleSince) >= settings.server_check_delay;
    const bool needsCheck = !settings.server_check_query.empty() && rested &&
                            (servedClient_ || settings.server_check_delay > 0);
    if (needsCheck) {
        // PgBouncer 1.24+'s default "<empty>" means: check with an empty query (cheapest round trip).
        const bool emptyQuery = settings.server_check_query == config::kEmptyQueryMarker;
        runQuery(emptyQuery ? std::string() : settings.server_check_query, std::move(done));
        return;
    }
    done(std::nullopt);
}

void ServerConn::releaseFromClient(bool runReset) {
    client_ = nullptr;
    if (state_ == State::Closing) return;
    if (dedicated()) {  // never pooled: it ends with its client
        close("replication client was closed");
        return;
    }
    if (state_ == State::Internal) {
        // The client left while its check or parameter sync was running: finish that first.
        queryDone_ = [this, runReset](const std::optional<Error>& error) {
            if (error) close("server check or parameter sync failed: " + error->message);
            else releaseFromClient(runReset);
        };
        return;
    }
    if (cancelsInFlight_ > 0) {
        // A cancel sent for the client that just left may still reach the backend: it must
        // not cancel the next client's query. cancelFinished() goes on with the release.
        state_ = State::BeingCanceled;
        resetAfterCancel_ = runReset;
        shard_.serverBusy(*this);
        return;
    }
    state_ = State::Idle;
    if (!readyForQuery()) {
        close("client disconnect while server was not ready");
        return;
    }
    const std::string& resetQuery = connections_.settings().server_reset_query;
    if (runReset && !resetQuery.empty()) {
        statements_.clear();  // DISCARD ALL (the default) takes every prepared statement
        shard_.serverBusy(*this);
        runQuery(resetQuery, [this](const std::optional<Error>& error) {
            if (error) {
                close("server_reset_query failed: " + error->message);
                return;
            }
            releaseFromClient(false);
        });
        return;
    }
    const pool::PoolTarget& target = shard_.target();
    if (shard_.pool().retireForLifetime(connectedAt_, target.serverLifetime, target.poolSize, Clock::now())) {
        close("server lifetime over");
        return;
    }
    if (!shard_.isCurrent(*this)) {
        close(shard_.isCurrentGeneration(*this) ? "host no longer serves this database (role or health changed)"
                                                : "database configuration changed");
        return;
    }
    shard_.serverReady(*this);
}

void ServerConn::cancelFinished() {
    if (cancelsInFlight_ > 0) --cancelsInFlight_;
    if (cancelsInFlight_ > 0 || state_ != State::BeingCanceled) return;
    releaseFromClient(resetAfterCancel_);
}

void ServerConn::sendFromClient(const uint8_t* data, size_t size) {
    if (size == 0) return;
    readyForQuery_ = false;
    servedClient_ = true;
    socket_.write(data, size);
}

// Whether a message from the server is read whole before it goes on; the rest streams through.
// With prepared statements every message that may end a request is (small ones), so that the
// pooler's own answers never land inside a message.
bool ServerConn::readsWhole(char type) const {
    switch (type) {
        case proto::msg::kReadyForQuery:
        case proto::msg::kParameterStatus:
        case proto::msg::kErrorResponse: return true;
        case proto::msg::kCommandComplete:
        case proto::msg::kRowDescription:
        case proto::msg::kNoticeResponse:
        case proto::msg::kNotificationResponse:
        case proto::msg::kParseComplete:
        case proto::msg::kCloseComplete: return relay_ != nullptr;
        default: return false;
    }
}

// Passes the server's messages to the linked client straight from the read buffer. Only
// ReadyForQuery, ParameterStatus and errors are read whole (and, with prepared statements,
// what readsWhole says); a ReadyForQuery ends the pass, so the client can decide on the release
// point before anything after it is forwarded.
void ServerConn::forwardToClient(net::IoBuffer& input) {
    const uint8_t* data = input.data();
    const size_t size = input.size();
    ClientConn* client = client_;
    size_t pos = 0;
    size_t sent = 0;  // what is before this went to the client
    auto passOn = [&](size_t upTo) {
        if (upTo > sent) client->sendFromServer(data + sent, upTo - sent);
        sent = std::max(sent, upTo);
    };
    std::optional<char> readyStatus;
    size_t readyAt = 0;
    bool replayed = false;  // the client's messages held back meanwhile may go on after it
    while (pos < size && !readyStatus) {
        if (streamRemaining_ > 0) {
            size_t take = std::min<size_t>(streamRemaining_, size - pos);
            pos += take;
            streamRemaining_ -= static_cast<uint32_t>(take);
            continue;
        }
        auto header = proto::peekHeader(data + pos, size - pos);
        if (!header) break;
        if (header->length < 4) {
            close("server sent a malformed message");
            return;
        }
        const char type = header->type;
        const bool whole = readsWhole(type);
        if (whole && size - pos < header->totalSize()) break;  // read the rest of it first
        const uint8_t* body = data + pos + proto::kHeaderSize;
        if (relay_) {
            if (relay_->hasDue()) {  // the pooler's own answers, owed before this message
                passOn(pos);
                client->deliverPoolerAnswers(*relay_);
            }
            const auto verdict = relay_->fromServer(type, whole ? body : nullptr, whole ? header->bodySize() : 0,
                                                    client->preparedStatements());
            if (verdict == PreparedRelay::Verdict::Swallow && whole) {  // the answer to a request the pooler added
                passOn(pos);
                pos += header->totalSize();
                sent = pos;
                std::string replay;
                if (relay_->takeReplay(replay)) {  // a batch refused for a stale plan goes again
                    socket_.write(replay);
                    replayed = true;
                }
                continue;
            }
        }
        if (!whole) {
            streamRemaining_ = header->totalSize();  // passes through, in pieces if it is large
            continue;
        }
        if (type == proto::msg::kReadyForQuery) {
            char status = 'I';
            proto::parseReadyForQuery(body, header->bodySize(), status);
            txStatus_ = status;
            readyForQuery_ = true;
            readyStatus = status;
            readyAt = pos;
        } else if (type == proto::msg::kErrorResponse) {
            // Errors are rare and small: read whole, so that a FATAL (shutdown, crash, a
            // terminated backend) ends this server without ending the client's session: the
            // client gets an ERROR for what was in flight and its next transaction another server.
            proto::ErrorFields fields;
            proto::parseErrorOrNotice(body, header->bodySize(), fields);
            if (fields.severity == "FATAL" || fields.severity == "PANIC") {
                // The server is going away (shutdown, crash, a terminated backend: class 57P):
                // the client gets an ERROR instead and stays. Any other FATAL answers the
                // client's own request (a protocol violation…): it gets it, and the session ends.
                const bool serverGoingAway = fields.sqlstate.starts_with("57P");
                if (!serverGoingAway) pos += header->totalSize();
                passOn(pos);
                input.consume(pos);
                if (serverGoingAway) {
                    lost(errorFromFields(fields));
                } else {
                    clientSawFatal_ = true;
                    close(fmt::format("server sent a fatal error: {}", fields.message));
                }
                return;
            }
            // A write refused as read-only on a read-write pool's server: the host may have
            // been demoted; the prober looks at once (the error itself goes to the client).
            if (fields.sqlstate == "25006" && shard_.target().multiHost()) connections_.hosts().requestProbe();
        } else if (type == proto::msg::kParameterStatus) {
            std::string_view name, value;
            if (proto::parseParameterStatus(body, header->bodySize(), name, value)) {
                noteParameter(name, value);
                if (client_->serverParameterChanged(name, value)) restore_.emplace_back(name);
            }
        }
        pos += header->totalSize();
    }
    // Statement pooling refuses the transaction: the client gets the pooler's error instead of
    // this ReadyForQuery, so it never believes its BEGIN succeeded (as PgBouncer).
    const bool refused = readyStatus && *readyStatus != 'I' && shard_.target().mode == pool::PoolMode::Statement;
    if (readyStatus && !restore_.empty()) {
        // Only when nothing else of the client's is queued behind this answer on the server, and
        // the transaction is not failed (a SET would fail there too).
        if (*readyStatus != 'E' && client->awaitsOnlyOneReady()) {
            passOn(readyAt);
            input.consume(pos);
            restoreClientParameters(*readyStatus);
            return;
        }
        restore_.clear();
    }
    passOn(refused ? readyAt : pos);
    input.consume(pos);
    if (client->socket().queuedBytes() > kHighWater) socket_.stopReading();
    // May unlink us (transaction/statement mode) or close us; the caller re-checks our state.
    if (readyStatus) client->serverReadyForQuery(*readyStatus);
    // The pooler's answers due after the last message (a Parse after the Sync…); may release us.
    if (relay_ && client_ == client && state_ == State::Active && streamRemaining_ == 0 && relay_->hasDue())
        client->deliverPoolerAnswers(*relay_);
    if (replayed && client_ == client) client->resumeReading();
}

void ServerConn::restoreClientParameters(char readyStatus) {
    std::vector<std::string> names = std::move(restore_);
    restore_.clear();
    std::string sql = client_->restoreStartupParameters(names);
    runQuery(
        std::move(sql),
        [this, names = std::move(names)](const std::optional<Error>& error) {
            if (error) {
                close("could not restore the client's parameters after RESET: " + error->message);
                return;
            }
            ClientConn* client = client_;
            std::string out;
            for (const auto& name : names) {
                const std::string* value = params_.find(name);
                if (!value) continue;
                client->serverParameterChanged(name, *value);
                proto::appendParameterStatus(out, name, *value);
            }
            proto::appendReadyForQuery(out, txStatus_);
            client->sendFromServer(reinterpret_cast<const uint8_t*>(out.data()), out.size());
            client->serverReadyForQuery(txStatus_);
            if (client_ == client) client->resumeReading();
        },
        readyStatus);
}

void ServerConn::resumeReading() {
    if (state_ == State::Closing || socket_.isReading()) return;
    socket_.startReading(static_cast<size_t>(connections_.settings().pkt_buf));
    if (!socket_.input().empty()) onSocketRead(socket_.input());
}

void ServerConn::onSocketDrained() {
    if (client_) client_->resumeReading();
}

void ServerConn::onSocketEnd(std::string_view reason) {
    if (state_ == State::TlsRequest && socket_.isTls()) {
        // A failed handshake (certificate verification…) is the configuration's fault: say so.
        loginFailed(Error{fmt::format("TLS handshake with the server failed: {}", reason),
                          std::string(proto::sqlstate::kConnectionFailure)});
        return;
    }
    if (state_ == State::Login || state_ == State::Connecting || state_ == State::TlsRequest) {
        connectFailed(fmt::format("server closed the connection during login ({})", reason));
        return;
    }
    lost(Error{fmt::format("server closed the connection unexpectedly ({})", reason),
               std::string(proto::sqlstate::kConnectionFailure)});
}

void ServerConn::close(std::string_view reason) {
    if (state_ == State::Closing) return;
    const bool wasLinked = client_ != nullptr;
    const bool wasLoggedIn = state_ != State::Connecting && state_ != State::Login && state_ != State::TlsRequest;
    state_ = State::Closing;
    if (connections_.settings().log_disconnections)
        SLOG_INFO("{} closing because: {} (age={}s)", describe(), reason,
                  static_cast<long>(secondsSince(connectedAt_)));
    if (dedicatedTo_)  // its replication client still waits for it
        reportLoginFailure(Error{fmt::format("server connection closed: {}", reason),
                                 std::string(proto::sqlstate::kConnectionFailure)});
    if (wasLinked && clientSawFatal_) {
        ClientConn* client = client_;
        client_ = nullptr;
        client->close(reason);
    } else if (wasLinked) {
        ClientConn* client = client_;
        client_ = nullptr;
        client->serverLost(
            lostError_ ? *lostError_ : Error{"server conn crashed?", std::string(proto::sqlstate::kConnectionFailure)},
            streamRemaining_ > 0);
    }
    shard_.serverGone(*this);
    if (wasLoggedIn) {
        // Say goodbye, so PostgreSQL ends the backend at once and logs no "unexpected EOF".
        std::string out;
        proto::appendTerminate(out);
        socket_.write(out);
    }
    lookup_.cancel();
    socket_.close();
}

void ServerConn::closeHandingOnSlot(std::string_view reason, std::function<void()> then) {
    slotGivenAway = true;
    afterClose_ = std::move(then);
    close(reason);
}

void ServerConn::onSocketClosed() {
    if (afterClose_) afterClose_();
    connections_.destroy(*this);
}

}  // namespace sluice::conn

namespace sluice::conn {

void ServerConn::describeRow(ConnectionRow& row) const {
    row.isServer = true;
    row.id = id_;
    if (dedicated()) row.replication = replication_;
    row.user = shard_.target().serverUser;
    row.database = shard_.pool().database();
    const auto& settings = connections_.settings();
    switch (state_) {
        case State::Connecting:
        case State::TlsRequest:
        case State::Login: row.state = "new"; row.listState = "sv_login"; break;
        case State::Active: row.state = "active"; row.listState = "sv_active"; break;
        case State::Internal:
            row.state = client_ ? "active" : "tested";
            row.listState = client_ ? "sv_active" : "sv_tested";
            break;
        case State::Idle:
            if (shard_.isActive(*this)) {
                row.state = "active";
                row.listState = "sv_active";
            } else if (!poolHook().linked() || !shard_.isIdle(*this)) {
                row.state = "tested";
                row.listState = "sv_tested";
            } else if (secondsSince(idleSince) >= settings.server_check_delay && !settings.server_check_query.empty()) {
                row.state = "used";
                row.listState = "sv_used";
            } else {
                row.state = "idle";
                row.listState = "sv_idle";
            }
            break;
        case State::BeingCanceled: row.state = "being_canceled"; row.listState = "sv_being_canceled"; break;
        case State::Closing: row.state = "closing"; row.listState = "sv_closing"; break;
    }
    if (!address_.empty() && address_[0] == '/') {
        row.remoteAddress = "unix";
        row.remotePort = host_->address().port;
        row.localAddress = "unix";
    } else {
        net::splitAddress(address_, row.remoteAddress, row.remotePort);
        net::splitAddress(socket_.localAddress(), row.localAddress, row.localPort);
    }
    row.connectMicros = unixMicros(connectedAt_);
    row.requestMicros = idleSince != TimePoint{} ? unixMicros(idleSince) : row.connectMicros;
    row.closeNeeded = !shard_.isCurrent(*this);
    row.ptr = reinterpret_cast<uintptr_t>(this);
    row.link = reinterpret_cast<uintptr_t>(client_);
    row.remotePid = backendPid_;
    if (client_)
        if (const std::string* name = params_.find("application_name")) row.applicationName = *name;
    row.preparedStatements = static_cast<int>(statements_.size());
    row.queuedOutput = socket_.queuedBytes();
    row.bufferedInput = socket_.bufferedInput();
    if (socket_.isTls()) row.tls = socket_.tls()->describe();
    row.fd = socket_.fd();
    row.cancelKey = static_cast<int64_t>((static_cast<uint64_t>(static_cast<uint32_t>(backendPid_)) << 32) |
                                        static_cast<uint32_t>(backendKey_));
    describeParameters(params_, row);
}

}  // namespace sluice::conn
