#include "conn/client_conn.h"

#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>

#include "auth/crypto_util.h"
#include "auth/md5_password.h"
#include "auth/scram.h"
#include "auth/secret.h"
#include "conn/connections.h"
#include "conn/server_conn.h"
#include "conn/startup_options.h"
#include "conn/tracked_params.h"
#include "proto/builders.h"
#include "proto/codes.h"
#include "proto/header.h"
#include "proto/parse.h"
#include "conn/worker_report.h"
#include "util/log.h"

namespace sluice::conn {

namespace {

// A password or SASL message larger than this is not a password.
constexpr uint32_t kMaxAuthMessage = 64u << 10;
// Past this much output queued toward a slow server, stop reading its client (backpressure).
constexpr size_t kHighWater = 256u << 10;

bool isConsoleDatabase(std::string_view name) { return name == "pgbouncer" || name == "sluice"; }

}  // namespace

ClientConn::ClientConn(Connections& connections, uint64_t id)
    : connections_(connections),
      socket_(connections.loop(), *this),
      id_(id),
      name_("C-" + std::to_string(id)),
      connectedAt_(Clock::now()) {}

ClientConn::~ClientConn() = default;

std::string ClientConn::describe() const {
    return fmt::format("{}: {}/{}@{}", name_, database_.empty() ? "(nodb)" : database_,
                       user_.empty() ? "(nouser)" : user_, peer_);
}

bool ClientConn::accept(uv_stream_t* listener, bool isUnix) {
    if (socket_.acceptFrom(listener) != 0) return false;
    peer_ = isUnix ? fmt::format("unix:{}", connections_.settings().listen_port) : socket_.peerAddress();
    const auto& settings = connections_.settings();
    socket_.applyTcpOptions(connections_.tcpOptions());
    connections_.counters().clients.fetch_add(1, std::memory_order_relaxed);
    counted_ = true;
    socket_.startReading(static_cast<size_t>(settings.pkt_buf));
    return true;
}

void ClientConn::onSocketRead(net::IoBuffer& input) {
    lastActivityUs_ = uv_now(connections_.loop()) * 1000;
    readInput(input);
    releaseIdleBuffer();
}

// A client whose input is all consumed keeps no read buffer: thousands of idle clients then cost
// little, and the next read allocates one again (once per request at most).
void ClientConn::releaseIdleBuffer() {
    if (state_ != State::Closing) socket_.input().release();
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
                // Keep what came; it goes to the server once one is linked.
                socket_.stopReading();
                return;
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
        case proto::StartupKind::CancelRequest: {
            ClientConn* target = connections_.findByCancelKey(packet.cancelPid, packet.cancelKey);
            if (target && target->server_) connections_.forwardCancel(*target->server_);
            else if (target) target->cancelWhileWaiting();
            // The protocol gives a cancel connection no answer either way.
            if (connections_.settings().log_connections) SLOG_DEBUG("{} cancel request", describe());
            state_ = State::Closing;
            socket_.close();
            return false;
        }
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
    const std::string& tlsMode = settings.client_tls_sslmode;
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
    if (!connections_.acceptingLogins()) {
        closeWithError(proto::sqlstate::kCannotConnectNow, "pooler is shutting down");
        return;
    }
    for (const auto& [name, value] : packet.params) {
        if (name == "user" || name == "database") continue;
        if (isTrackedParameter(name, settings)) {
            wanted_.set(name, value);
        } else if (listContains(settings.ignore_startup_parameters, name)) {
            continue;
        } else if (name == "options") {
            // As PgBouncer 1.25: "-c name=value" for tracked parameters is honoured; anything
            // else needs the parameter in ignore_startup_parameters.
            auto options = parseStartupOptions(value);
            if (!options) {
                closeWithError(options.error().sqlstate, options.error().message);
                return;
            }
            for (const auto& [option, optionValue] : options.value()) {
                if (isTrackedParameter(option, settings)) {
                    wanted_.set(option, optionValue);
                } else if (!listContains(settings.ignore_startup_parameters, option)) {
                    closeWithError(proto::sqlstate::kProtocolViolation,
                                   fmt::format("unsupported startup parameter in options: {}", option));
                    return;
                }
            }
        } else {
            closeWithError(proto::sqlstate::kProtocolViolation, fmt::format("unsupported startup parameter: {}", name));
            return;
        }
    }
    if (settings.application_name_add_host && !socket_.isUnix()) {
        // PgBouncer's format, so log parsers that split it keep working.
        const std::string* given = wanted_.find("application_name");
        wanted_.set("application_name", fmt::format("{} - {}", given ? *given : std::string(), peer_));
    }
    if (packet.minor > 0 || !packet.protocolOptions.empty()) {
        std::string out;
        proto::appendNegotiateProtocolVersion(out, 0, packet.protocolOptions);
        socket_.write(out);
    }
    const auto& config = connections_.config();
    console_ = isConsoleDatabase(database_);
    if (console_) databaseEntry_ = nullptr;
    else if (auto it = config.databases.find(database_); it != config.databases.end()) databaseEntry_ = &it->second;
    else if (config.fallbackDatabase) databaseEntry_ = &*config.fallbackDatabase;
    if (settings.log_connections)
        SLOG_INFO("{} login attempt: db={} user={} tls={} replication=no", describe(), database_, user_,
                  socket_.isTls() ? socket_.tls()->describe() : "no");
    if (!databaseEntry_ && !console_) {
        closeWithError(proto::sqlstate::kInvalidCatalogName, fmt::format("no such database: {}", database_));
        return;
    }
    if (!console_ && connections_.isDisabled(database_)) {
        closeWithError(proto::sqlstate::kCannotConnectNow,
                       fmt::format("database does not allow connections: {}", database_));
        return;
    }
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

bool ClientConn::wantsSecretLookup() const {
    if (console_ || login_->hasSecret || !databaseEntry_) return false;
    const auto& settings = connections_.settings();
    const std::string& method = settings.auth_type;
    if (method == "any" || method == "trust" || method == "cert") return false;
    return !databaseEntry_->authUser.empty() || !settings.auth_user.empty();
}

void ClientConn::lookUpSecret() {
    const auto& settings = connections_.settings();
    const config::DatabaseEntry* entry = databaseEntry_;
    std::string database = database_;
    const std::string& authDbname = !entry->authDbname.empty() ? entry->authDbname : settings.auth_dbname;
    if (!authDbname.empty()) {
        const auto& config = connections_.config();
        database = authDbname;
        if (auto it = config.databases.find(authDbname); it != config.databases.end()) entry = &it->second;
        else if (!config.fallbackDatabase) {
            closeWithError(proto::sqlstate::kInvalidCatalogName,
                           fmt::format("auth_dbname {} is not a configured database", authDbname));
            return;
        }
    }
    const std::string& authUser = !entry->authUser.empty()            ? entry->authUser
                                  : !databaseEntry_->authUser.empty() ? databaseEntry_->authUser
                                                                      : settings.auth_user;
    state_ = State::Auth;  // client_login_timeout bounds the lookup too
    alive_ = std::make_shared<bool>(true);
    lookupShard_ = &connections_.shardFor(*entry, database, authUser);
    pool::Acquired acquired = lookupShard_->acquire(*this);
    if (acquired.server) onServerAvailable(*acquired.server);
    else if (acquired.error) onServerUnavailable(*acquired.error);
}

void ClientConn::runSecretLookup(ServerConn& server) {
    const auto& settings = connections_.settings();
    std::string sql = !databaseEntry_->authQuery.empty() ? databaseEntry_->authQuery : settings.auth_query;
    for (size_t at = sql.find("$1"); at != std::string::npos; at = sql.find("$1", at + 1)) {
        const std::string literal = quoteLiteral(user_);
        sql.replace(at, 2, literal);
        at += literal.size() - 1;
    }
    std::weak_ptr<bool> alive = alive_;
    server.runQueryForRows(sql, [this, alive, &server](const std::optional<Error>& error, ServerConn::Rows rows) {
        server.releaseFromClient(false);  // back to the auth pool
        if (alive.expired() || state_ == State::Closing) return;
        lookupShard_ = nullptr;
        if (error) {
            SLOG_WARN("{} auth_query failed: {}", describe(), error->message);
            closeWithError(error->sqlstate.empty() ? std::string(proto::sqlstate::kConnectionFailure) : error->sqlstate,
                           "authentication query failed: " + error->message);
            return;
        }
        // No row, or a NULL secret (expired, no password): the login fails like a wrong password.
        if (rows.size() == 1 && rows[0].size() >= 2 && rows[0][1]) {
            login_->secret = *rows[0][1];
            login_->hasSecret = true;
        }
        startAuthentication();
    });
}

void ClientConn::startAuthentication() {
    std::string method = connections_.settings().auth_type;
    std::string identMap;  // an hba rule's map=: cert and peer names go through auth_ident_file
    // Whether the system user (OS account, certificate CN) may log in as the requested user.
    auto mayLogInAs = [&](const std::string& systemUser) {
        if (identMap.empty()) return !systemUser.empty() && systemUser == user_;
        const auth::IdentMaps* maps = connections_.identMaps();
        return maps && !systemUser.empty() && maps->allows(identMap, systemUser, user_);
    };
    if (method == "hba") {
        // The first auth_hba_file rule for this connection decides the method.
        auth::HbaRules::Request request;
        request.isUnix = socket_.isUnix();
        request.tls = socket_.isTls();
        request.database = database_;
        request.user = user_;
        request.address = socket_.peerSockaddr();
        const auth::HbaRules* rules = connections_.hba();
        auth::HbaRules::Match match = rules ? rules->match(request) : auth::HbaRules::Match{"reject", 0, ""};
        method = match.method;
        identMap = match.map;
        if (connections_.settings().log_connections)
            SLOG_DEBUG("{} hba line {}: {}", describe(), match.line, method);
        if (method == "reject") {
            closeWithError(proto::sqlstate::kInvalidAuthorizationSpecification,
                           fmt::format("no hba rule allows user \"{}\" to connect to database \"{}\" from {}{}", user_,
                                       database_, peer_, socket_.isTls() ? " with TLS" : ""));
            return;
        }
        if (method == "peer") {
            auto credentials = socket_.peerCredentials();
            const passwd* account = credentials ? ::getpwuid(credentials->first) : nullptr;
            if (!account || !mayLogInAs(account->pw_name)) {
                closeWithError(proto::sqlstate::kInvalidAuthorizationSpecification,
                               fmt::format("peer authentication failed for user \"{}\"", user_));
                return;
            }
            authenticated();
            return;
        }
    }
    std::string out;
    if (method == "any") {
        authenticated();
        return;
    }
    if (method == "cert") {
        // The client certificate, verified against client_tls_ca_file, names the user in its CN.
        const std::string commonName = socket_.isTls() ? socket_.tls()->peerCommonName() : std::string();
        if (!mayLogInAs(commonName)) {
            if (connections_.settings().log_pooler_errors)
                SLOG_WARN("{} certificate authentication failed (certificate CN '{}')", describe(), commonName);
            closeWithError(proto::sqlstate::kInvalidAuthorizationSpecification,
                           fmt::format("certificate authentication failed for user \"{}\"", user_));
            return;
        }
        authenticated();
        return;
    }
    if (method == "trust") {
        // PgBouncer's rule: no password is asked, but the user must be in auth_file.
        if (!login_->hasSecret) {
            closeWithError(proto::sqlstate::kInvalidAuthorizationSpecification, fmt::format("no such user: {}", user_));
            return;
        }
        authenticated();
        return;
    }
    state_ = State::Auth;
    const bool scramSecret = login_->hasSecret && auth::classifySecret(login_->secret) == auth::SecretKind::Scram;
    if (method == "plain" || method == "password") {
        proto::appendAuthenticationCleartext(out);
    } else if (method == "scram-sha-256" || (method == "md5" && scramSecret)) {
        // PgBouncer's rule: with md5, a user whose secret is a SCRAM secret authenticates by SCRAM.
        // Over TLS, channel binding is offered first, as PostgreSQL does.
        std::vector<std::string_view> mechanisms;
        if (socket_.isTls() && !socket_.tls()->serverEndPoint().empty()) mechanisms.push_back("SCRAM-SHA-256-PLUS");
        mechanisms.push_back("SCRAM-SHA-256");
        proto::appendAuthenticationSasl(out, mechanisms);
        login_->saslStarted = true;
    } else if (method == "md5") {
        uint8_t salt[4];
        auth::randomBytes(salt, sizeof salt);
        login_->md5Salt.assign(reinterpret_cast<const char*>(salt), sizeof salt);
        proto::appendAuthenticationMd5(out, salt);
    } else {
        closeWithError(proto::sqlstate::kFeatureNotSupported,
                       fmt::format("auth_type {} is not supported yet by Sluice", method));
        return;
    }
    socket_.write(out);
}

bool ClientConn::handleAuthMessage(net::IoBuffer& input) {
    auto header = proto::peekHeader(input.data(), input.size());
    if (!header) return false;
    if (header->type != proto::msg::kPasswordMessage) {
        closeWithError(proto::sqlstate::kProtocolViolation,
                       fmt::format("expected a password message, got message type '{}'", header->type));
        return false;
    }
    if (header->length < 4 || header->length > kMaxAuthMessage) {
        closeWithError(proto::sqlstate::kProtocolViolation, "invalid length of password message");
        return false;
    }
    if (input.size() < header->totalSize()) return false;
    // Taken out of the buffer first: what follows may already be read as the next state's input.
    const std::string message(reinterpret_cast<const char*>(input.data()) + 5, header->bodySize());
    input.consume(header->totalSize());
    const auto* body = reinterpret_cast<const uint8_t*>(message.data());
    if (login_->saslStarted) {
        handleSaslMessage(body, message.size());
    } else {
        std::string_view password;
        if (!proto::parsePasswordMessage(body, message.size(), password)) {
            closeWithError(proto::sqlstate::kProtocolViolation, "malformed password message");
            return false;
        }
        verifyPassword(password);
    }
    return state_ != State::Closing;
}

void ClientConn::verifyPassword(std::string_view password) {
    bool ok = false;
    if (login_->hasSecret) {
        switch (auth::classifySecret(login_->secret)) {
            case auth::SecretKind::Plain:
                ok = login_->md5Salt.empty() ? auth::constantTimeEquals(password, login_->secret)
                                      : auth::constantTimeEquals(
                                            password, auth::md5SaltedResponse(auth::md5PasswordHash(login_->secret, user_),
                                                                              reinterpret_cast<const uint8_t*>(login_->md5Salt.data())));
                break;
            case auth::SecretKind::Md5:
                ok = login_->md5Salt.empty()
                         ? auth::constantTimeEquals(auth::md5PasswordHash(password, user_), login_->secret)
                         : auth::constantTimeEquals(
                               password, auth::md5SaltedResponse(login_->secret, reinterpret_cast<const uint8_t*>(login_->md5Salt.data())));
                break;
            case auth::SecretKind::Scram: {
                auth::ScramSecret stored;
                if (login_->md5Salt.empty() && auth::parseScramSecret(login_->secret, stored)) {
                    auth::ScramSecret given = auth::makeScramSecret(password, stored.salt, stored.iterations);
                    ok = auth::constantTimeEquals(
                        std::string_view(reinterpret_cast<const char*>(given.storedKey.data()), given.storedKey.size()),
                        std::string_view(reinterpret_cast<const char*>(stored.storedKey.data()), stored.storedKey.size()));
                }
                break;
            }
        }
    }
    if (ok) authenticated();
    else authenticationFailed();
}

void ClientConn::handleSaslMessage(const uint8_t* body, size_t size) {
    std::string reply, error;
    if (!login_->scram) {
        proto::SaslInitialResponse initial;
        const std::string endPoint = socket_.isTls() ? socket_.tls()->serverEndPoint() : std::string();
        const bool parsed = proto::parseSaslInitialResponse(body, size, initial);
        const bool plus = parsed && initial.mechanism == "SCRAM-SHA-256-PLUS" && !endPoint.empty();
        if (!parsed || (initial.mechanism != "SCRAM-SHA-256" && !plus)) {
            closeWithError(proto::sqlstate::kProtocolViolation, "client selected an invalid SASL authentication mechanism");
            return;
        }
        // -PLUS means binding (flag p); plain SCRAM-SHA-256 must not claim to bind.
        if (plus != (!initial.data.empty() && initial.data[0] == 'p')) {
            closeWithError(proto::sqlstate::kProtocolViolation,
                           "SCRAM channel binding flag does not match the selected mechanism");
            return;
        }
        auth::ScramSecret secret;
        bool usable = login_->hasSecret;
        if (usable) {
            switch (auth::classifySecret(login_->secret)) {
                case auth::SecretKind::Scram:
                    usable = auth::parseScramSecret(login_->secret, secret);
                    if (usable) login_->storedScram = secret;
                    break;
                case auth::SecretKind::Plain: {
                    uint8_t salt[16];
                    auth::randomBytes(salt, sizeof salt);
                    secret = auth::makeScramSecret(login_->secret, std::string_view(reinterpret_cast<char*>(salt), sizeof salt),
                                                   4096);
                    break;
                }
                case auth::SecretKind::Md5: usable = false; break;
            }
        }
        if (!usable) {
            // Go through the exchange with a secret nobody knows, so an unknown user looks like a wrong password.
            uint8_t junk[32];
            auth::randomBytes(junk, sizeof junk);
            secret = auth::makeScramSecret(std::string_view(reinterpret_cast<char*>(junk), sizeof junk),
                                           std::string_view(reinterpret_cast<char*>(junk), 16), 4096);
        }
        login_->scram = std::make_unique<auth::ScramServer>(secret);
        if (!endPoint.empty()) login_->scram->offerChannelBinding(endPoint);
        if (!login_->scram->handleClientFirst(initial.data, reply, error)) {
            closeWithError(proto::sqlstate::kProtocolViolation, "malformed SCRAM message: " + error);
            return;
        }
        std::string out;
        proto::appendAuthenticationSaslContinue(out, reply);
        socket_.write(out);
        return;
    }
    std::string_view data(reinterpret_cast<const char*>(body), size);
    if (!login_->scram->handleClientFinal(data, reply, error)) {
        SLOG_DEBUG("{} SCRAM failed: {}", describe(), error);
        authenticationFailed();
        return;
    }
    std::string out;
    proto::appendAuthenticationSaslFinal(out, reply);
    socket_.write(out);
    if (const auto& stored = login_->storedScram)
        login_->passthrough = pool::ScramPassthrough{login_->scram->clientKey(), stored->serverKey, stored->salt,
                                                     stored->iterations};
    login_->scram.reset();
    authenticated();
}

void ClientConn::authenticationFailed() {
    if (connections_.settings().log_pooler_errors || connections_.settings().log_connections)
        SLOG_WARN("{} password authentication failed", describe());
    closeWithError(proto::sqlstate::kInvalidPassword, fmt::format("password authentication failed for user \"{}\"", user_));
}

void ClientConn::authenticated() {
    std::optional<pool::ScramPassthrough> passthrough = std::move(login_->passthrough);
    login_.reset();  // what only the login needed
    do {
        auth::randomBytes(reinterpret_cast<uint8_t*>(&cancelPid_), sizeof cancelPid_);
        auth::randomBytes(reinterpret_cast<uint8_t*>(&cancelKey_), sizeof cancelKey_);
    } while (connections_.findByCancelKey(cancelPid_, cancelKey_) != nullptr);
    connections_.registerCancelKey(*this);
    cancelRegistered_ = true;
    if (console_) {
        enterConsole();
        return;
    }
    shard_ = &connections_.shardFor(*databaseEntry_, database_, user_);
    std::string_view limit;
    if (!shard_->pool().tryAdmitClient(shard_->target(), limit)) {
        closeWithError(proto::sqlstate::kTooManyConnections, fmt::format("no more connections allowed ({})", limit));
        return;
    }
    admitted_ = true;
    ++shard_->stats.clientLogins;
    // SCRAM pass-through: servers of this pool log in with the keys this client proved, so no
    // plain password needs to be stored anywhere (only for the user's own server login).
    if (passthrough && shard_->target().serverUser == user_) shard_->pool().rememberScramKeys(*passthrough);
    if (auto welcome = welcomeFromCache()) {
        sendWelcome(*welcome);
        state_ = State::Idle;  // anything the client already sent is read on by onSocketRead's loop
        return;
    }
    // A pool that has never had a server, or a parameter value never seen: get a server first,
    // so that the welcome says what SHOW will answer.
    state_ = State::WaitWelcome;
    requestServer();
}

std::optional<pool::ServerParams> ClientConn::welcomeFromCache() {
    const pool::ServerParams* defaults = shard_->serverDefaults();
    if (!defaults) return std::nullopt;
    std::optional<pool::ServerParams> params(*defaults);
    for (const auto& [name, value] : wanted_.entries()) {
        const std::string* initial = params->find(name);
        if (!initial) continue;  // not reported by servers: not part of the welcome
        if (*initial == value) continue;
        auto normalized = shard_->pool().normalizedValue(name, value);
        if (!normalized) return std::nullopt;
        params->set(name, *normalized);
        wanted_.set(name, *normalized);
    }
    return params;
}

void ClientConn::sendWelcome(const pool::ServerParams& serverParams) {
    startup_ = wanted_;
    std::string out;
    proto::appendAuthenticationOk(out);
    for (const auto& [name, value] : serverParams.entries()) proto::appendParameterStatus(out, name, value);
    proto::appendBackendKeyData(out, cancelPid_, cancelKey_);
    proto::appendReadyForQuery(out, 'I');
    socket_.write(out);
}

void ClientConn::enterConsole() {
    const auto& settings = connections_.settings();
    if (!adminUser_) {
        // As PgBouncer: admin_users may do everything, stats_users the read-only SHOWs, and with
        // auth_type=any every user is a stats user.
        adminUser_ = listContains(settings.admin_users, user_);
        if (!adminUser_ && !listContains(settings.stats_users, user_) && settings.auth_type != "any") {
            closeWithError(proto::sqlstate::kInvalidAuthorizationSpecification,
                           fmt::format("user \"{}\" is not allowed on the admin console (admin_users, stats_users)", user_));
            return;
        }
    }
    connections_.registerConsoleClient(*this);
    std::string out;
    proto::appendAuthenticationOk(out);
    // What drivers look for at login; the console itself speaks UTF-8 text only.
    const std::pair<std::string_view, std::string_view> params[] = {
        {"server_version", SLUICE_VERSION "/sluice"}, {"server_encoding", "UTF8"}, {"client_encoding", "UTF8"},
        {"DateStyle", "ISO, MDY"}, {"TimeZone", "UTC"}, {"standard_conforming_strings", "on"},
        {"integer_datetimes", "on"}, {"is_superuser", "off"}};
    for (const auto& [name, value] : params) proto::appendParameterStatus(out, name, value);
    if (const std::string* name = wanted_.find("application_name"))
        proto::appendParameterStatus(out, "application_name", *name);
    proto::appendBackendKeyData(out, cancelPid_, cancelKey_);
    proto::appendReadyForQuery(out, 'I');
    socket_.write(out);
    state_ = State::Console;
}

void ClientConn::handleConsole(net::IoBuffer& input) {
    auto header = proto::peekHeader(input.data(), input.size());
    if (!header) return;
    if (header->length < 4 || header->length > kMaxAuthMessage) {
        closeWithError(proto::sqlstate::kProtocolViolation, "invalid message length on the admin console");
        return;
    }
    if (input.size() < header->totalSize()) return;
    switch (header->type) {
        case proto::msg::kQuery: {
            std::string query(reinterpret_cast<const char*>(input.data()) + proto::kHeaderSize, header->bodySize());
            input.consume(header->totalSize());
            if (!query.empty() && query.back() == '\0') query.pop_back();
            state_ = State::ConsoleBusy;
            socket_.stopReading();
            connections_.submitConsoleQuery(*this, adminUser_, std::move(query));
            return;
        }
        case proto::msg::kTerminate: close("client close request"); return;
        case proto::msg::kParse:
        case proto::msg::kBind:
        case proto::msg::kExecute:
            closeWithError(proto::sqlstate::kFeatureNotSupported,
                           "extended query protocol not supported by admin console");
            return;
        default:
            closeWithError(proto::sqlstate::kProtocolViolation,
                           fmt::format("unsupported message type '{}' for the admin console", header->type));
            return;
    }
}

void ClientConn::consoleReply(const std::string& bytes, bool closeAfter) {
    if (state_ != State::ConsoleBusy) return;
    socket_.write(bytes);
    if (closeAfter) {
        close("admin console session ended");
        return;
    }
    state_ = State::Console;
    socket_.startReading(static_cast<size_t>(connections_.settings().pkt_buf));
    if (!socket_.input().empty()) handleConsole(socket_.input());
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
    state_ = State::Waiting;
    requestServer();
}

void ClientConn::requestServer() {
    // Reading goes on while a server is at hand (most of the time): stopping and restarting it
    // would cost two epoll_ctl calls per transaction. Bytes that arrive while Waiting or Linking
    // stop the reading then (onSocketRead).
    pool::Acquired acquired = shard_->acquire(*this);
    if (acquired.server) onServerAvailable(*acquired.server);
    else if (acquired.error) onServerUnavailable(*acquired.error);
    else socket_.stopReading();  // queued: nothing is read until a server comes
}

void ClientConn::onServerAvailable(pool::PooledServer& pooled) {
    auto& server = static_cast<ServerConn&>(pooled);
    if (lookupShard_) {
        runSecretLookup(server);
        return;
    }
    const bool welcomePending = state_ == State::WaitWelcome;
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
    const pool::PoolTarget* target = shard_ ? &shard_->target() : nullptr;
    switch (state_) {
        case State::Startup:
        case State::Auth:
            if (secondsSince(connectedAt_) >= connections_.settings().client_login_timeout &&
                connections_.settings().client_login_timeout > 0)
                closeWithError(proto::sqlstate::kProtocolViolation, "client_login_timeout");
            return;
        case State::Waiting:
        case State::WaitWelcome:
            if (target && target->queryWaitTimeout > 0 && secondsSince(waitingSince) >= target->queryWaitTimeout)
                closeWithError(proto::sqlstate::kProtocolViolation, "query_wait_timeout");
            return;
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

void ClientConn::onServerUnavailable(const Error& error) {
    if (lookupShard_) {
        lookupShard_ = nullptr;
        closeWithError(error.sqlstate.empty() ? "08006" : error.sqlstate,
                       "authentication query failed: " + error.message);
        return;
    }
    closeWithError(error.sqlstate.empty() ? "08006" : error.sqlstate, error.message);
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
    if (shard_->target().mode == pool::PoolMode::Statement && status != 'I') {
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
    if (!server_ || shard_->target().mode == pool::PoolMode::Session) return;
    if (readyPending_ > 0 || extendedOpen_ || streamRemaining_ > 0 || !server_->readyForQuery()) return;
    ServerConn* server = server_;
    server_ = nullptr;
    state_ = State::Idle;
    server->releaseFromClient(connections_.settings().server_reset_query_always);
    socket_.startReading(static_cast<size_t>(connections_.settings().pkt_buf));
    if (!socket_.input().empty() && state_ == State::Idle) handleIdle(socket_.input());
    releaseIdleBuffer();
}

void ClientConn::forwardToServer(net::IoBuffer& input) {
    const uint8_t* data = input.data();
    const size_t size = input.size();
    const uint32_t maxPacket = static_cast<uint32_t>(connections_.settings().max_packet_size);
    size_t pos = 0;
    bool terminate = false;
    while (pos < size) {
        if (streamRemaining_ > 0) {
            size_t take = std::min<size_t>(streamRemaining_, size - pos);
            pos += take;
            streamRemaining_ -= static_cast<uint32_t>(take);
            continue;
        }
        auto header = proto::peekHeader(data + pos, size - pos);
        if (!header) break;
        if (!proto::headerIsValid(*header, maxPacket)) {
            server_->sendFromClient(data, pos);
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
            server_->sendFromClient(data, pos);
            input.consume(pos);
            closeWithError(proto::sqlstate::kProtocolViolation, "PQexec disallowed");
            return;
        }
        countRequest(header->type);
        streamRemaining_ = header->totalSize();
    }
    server_->sendFromClient(data, pos);
    shard_->stats.bytesReceived += pos;
    input.consume(pos);
    if (terminate) {
        close("client close request");
        return;
    }
    if (server_->socket().queuedBytes() > kHighWater) socket_.stopReading();
}

void ClientConn::sendFromServer(const uint8_t* data, size_t size) {
    shard_->stats.bytesSent += size;
    socket_.write(data, size);
}

bool ClientConn::serverParameterChanged(std::string_view name, std::string_view value) {
    // The client changed it (SET): from now on that is the value it expects on any server.
    if (!isTrackedParameter(name, connections_.settings())) return false;
    wanted_.set(name, value);
    // RESET, RESET ALL, SET … TO DEFAULT and DISCARD ALL bring a parameter back to what the
    // server connection started with; the client expects what it connected with instead.
    const std::string* mine = startup_.find(name);
    if (!mine || *mine == value) return false;
    const pool::ServerParams* defaults = shard_->serverDefaults();
    const std::string* initial = defaults ? defaults->find(name) : nullptr;
    return initial && *initial == value;
}

std::string ClientConn::restoreStartupParameters(const std::vector<std::string>& names) {
    ParameterChanges changes;
    for (const auto& name : names)
        if (const std::string* value = startup_.find(name)) changes.emplace_back(name, *value);
    socket_.stopReading();  // nothing of the client's may reach the server before the restore
    return setStatements(changes);
}

bool ClientConn::awaitsOnlyOneReady() const { return readyPending_ == 1 && !extendedOpen_ && streamRemaining_ == 0; }

void ClientConn::serverLost(std::string_view reason) {
    server_ = nullptr;
    closeWithError(proto::sqlstate::kConnectionFailure, reason);
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

void ClientConn::closeWithError(std::string_view sqlstate, std::string_view message) {
    if (state_ == State::Closing) return;
    std::string out;
    proto::appendErrorResponse(out, "FATAL", sqlstate, message);
    socket_.write(out);
    close(message);
}

void ClientConn::close(std::string_view reason) {
    if (state_ == State::Closing) return;
    const State previous = state_;
    state_ = State::Closing;
    if (connections_.settings().log_disconnections && previous != State::Startup)
        SLOG_INFO("{} closing because: {} (age={}s)", describe(), reason, static_cast<long>(secondsSince(connectedAt_)));
    else if (connections_.settings().log_pooler_errors && previous == State::Startup)
        SLOG_INFO("{} closing because: {} (age={}s)", describe(), reason, static_cast<long>(secondsSince(connectedAt_)));
    if (shard_) shard_->cancelWait(*this);
    if (lookupShard_) lookupShard_->cancelWait(*this);
    if (server_) {
        ServerConn* server = server_;
        server_ = nullptr;
        server->releaseFromClient(true);
    }
    if (cancelRegistered_) connections_.unregisterCancelKey(*this);
    if (console_) connections_.unregisterConsoleClient(*this);
    if (admitted_) {
        shard_->pool().releaseClient();
        admitted_ = false;
    }
    if (counted_) {
        connections_.counters().clients.fetch_sub(1, std::memory_order_relaxed);
        counted_ = false;
    }
    socket_.close();
}

void ClientConn::onSocketClosed() { connections_.destroy(*this); }

}  // namespace sluice::conn

namespace sluice::conn {

void splitAddress(const std::string& address, std::string& host, int& port) {
    const size_t colon = address.rfind(':');
    host = address.substr(0, colon);
    if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    port = colon == std::string::npos ? 0 : std::atoi(address.c_str() + colon + 1);
}

void ClientConn::describeRow(ConnectionRow& row) const {
    row.id = id_;
    row.user = user_.empty() ? "(nouser)" : user_;
    row.database = database_.empty() ? "(nodb)" : database_;
    switch (state_) {
        case State::Waiting:
            row.state = "waiting";
            row.listState = "cl_waiting";
            row.waitMicros = static_cast<int64_t>(secondsSince(waitingSince) * 1e6);
            break;
        case State::Startup:
        case State::Auth:
        case State::WaitWelcome:
            row.state = "login";
            row.listState = "cl_login";
            break;
        default:
            row.state = server_ ? "active" : "idle";
            row.listState = "cl_active";
            break;
    }
    splitAddress(peer_, row.remoteAddress, row.remotePort);
    if (socket_.isUnix()) {
        row.localAddress = "unix";
        row.localPort = static_cast<int>(connections_.settings().listen_port);
        if (auto credentials = socket_.peerCredentials()) row.remotePid = credentials->second;
    } else {
        splitAddress(socket_.localAddress(), row.localAddress, row.localPort);
    }
    row.connectMicros = unixMicros(connectedAt_);
    const uint64_t lastRequest = std::max(lastActivityUs_, requestUs_);
    row.requestMicros = lastRequest == 0 ? row.connectMicros
                                         : unixMicros(TimePoint(std::chrono::microseconds(lastRequest)));
    row.ptr = reinterpret_cast<uintptr_t>(this);
    row.link = reinterpret_cast<uintptr_t>(server_);
    if (const std::string* name = wanted_.find("application_name")) row.applicationName = *name;
    row.queuedOutput = socket_.queuedBytes();
    row.bufferedInput = socket_.bufferedInput();
    if (socket_.isTls()) row.tls = socket_.tls()->describe();
}

}  // namespace sluice::conn
