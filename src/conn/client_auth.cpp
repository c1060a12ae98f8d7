// ClientConn, part two: authentication — the method (auth_type or the hba rule), the password,
// md5 and SCRAM exchanges (with channel binding and pass-through keys), cert and peer, and the
// auth_query lookup of secrets missing from auth_file.
#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>

#include "auth/crypto_util.h"
#include "auth/md5_password.h"
#include "auth/scram.h"
#include "auth/secret.h"
#include "conn/client_conn.h"
#include "conn/connections.h"
#include "conn/server_conn.h"
#include "conn/tracked_params.h"
#include "proto/builders.h"
#include "proto/codes.h"
#include "proto/header.h"
#include "proto/parse.h"
#include "util/log.h"

namespace sluice::conn {

bool ClientConn::wantsSecretLookup() const {
    if (login_->hasSecret) return false;
    const auto& settings = connections_.settings();
    // The console has no entry: its users missing from auth_file are looked up in auth_dbname.
    if (console_) return !settings.auth_user.empty() && !settings.auth_dbname.empty() && settings.auth_type != "any" &&
                         settings.auth_type != "cert";
    const config::DatabaseEntry* entry = databaseEntry();
    if (!entry) return false;
    const std::string& method = settings.auth_type;
    // trust asks no password, but as in PgBouncer the user must exist: in auth_file, or found
    // by auth_query. any ignores the user; cert trusts the certificate.
    if (method == "any" || method == "cert") return false;
    return !entry->authUser.empty() || !settings.auth_user.empty();
}

void ClientConn::lookUpSecret() {
    const auto& settings = connections_.settings();
    const config::DatabaseEntry* entry = databaseEntry();  // null for the console
    std::string database = database_;
    const std::string& authDbname = entry && !entry->authDbname.empty() ? entry->authDbname : settings.auth_dbname;
    if (!authDbname.empty()) {
        database = authDbname;
        if (config::isConsoleDatabase(authDbname)) {
            configError(fmt::format("cannot use the reserved \"{}\" database as an auth_dbname", authDbname));
            return;
        }
        // Through its own entry, else through "*" (never the client's own entry).
        entry = findDatabaseEntry(authDbname);
        if (!entry) {
            configError(fmt::format("authentication database \"{}\" is not configured", authDbname));
            return;
        }
    }
    // The login's own database is checked only after authentication, but the lookup needs this one now.
    if (connections_.isDisabled(database)) {
        closeWithError(proto::sqlstate::kProtocolViolation,
                       fmt::format("authentication database \"{}\" is disabled", database));
        return;
    }
    const config::DatabaseEntry* own = databaseEntry();
    const std::string& authUser = !entry->authUser.empty()             ? entry->authUser
                                  : own && !own->authUser.empty() ? own->authUser
                                                                  : settings.auth_user;
    state_ = State::Auth;  // client_login_timeout bounds the lookup too
    login_->alive = std::make_shared<bool>(true);
    login_->lookupShard = &connections_.shardFor(*entry, database, authUser);
    pool::Acquired acquired = login_->lookupShard->acquire(*this);
    if (acquired.server) onServerAvailable(*acquired.server);
    else if (acquired.error) onServerUnavailable(*acquired.error);
}

void ClientConn::runSecretLookup(ServerConn& server) {
    const auto& settings = connections_.settings();
    const config::DatabaseEntry* entry = databaseEntry();
    std::string sql = entry && !entry->authQuery.empty() ? entry->authQuery : settings.auth_query;
    for (size_t at = sql.find("$1"); at != std::string::npos; at = sql.find("$1", at + 1)) {
        const std::string literal = quoteLiteral(user_);
        sql.replace(at, 2, literal);
        at += literal.size() - 1;
    }
    std::weak_ptr<bool> alive = login_->alive;
    server.runQueryForRows(sql, [this, alive, &server](const std::optional<Error>& error, ServerConn::Rows rows) {
        server.releaseFromClient(false);  // back to the auth pool
        if (alive.expired() || state_ == State::Closing) return;
        login_->lookupShard = nullptr;
        if (error) {
            // As PgBouncer: the server's error is for the log; a client that has not logged in
            // learns nothing of the schema behind auth_query.
            SLOG_ERROR("{} S: error in auth_query: {}", describe(), error->message);
            closeWithError(proto::sqlstate::kProtocolViolation, "bouncer config error");
            return;
        }
        // No row: PgBouncer's "no such user". A NULL secret (expired, no password): the login
        // fails like a wrong password.
        if (rows.empty()) {
            closeWithError(proto::sqlstate::kProtocolViolation, "no such user");
            return;
        }
        login_->userKnown = true;
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
        request.replication = replication_ != Replication::None;  // matches the "replication" keyword, as in PostgreSQL
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
                                       database_, peer_.toString(), socket_.isTls() ? " with TLS" : ""));
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
        // PgBouncer's rule: the user name is ignored, so the database must name the server user.
        if (const config::DatabaseEntry* entry = databaseEntry(); !console_ && (!entry || entry->user.empty())) {
            configError("auth_type=any requires forced user (user= in the database's entry)");
            return;
        }
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
        // PgBouncer's rule: no password is asked, but the user must be in auth_file or found by
        // auth_query (a user it does not find was refused as "no such user" already).
        if (!login_->hasSecret && !login_->userKnown) {
            SLOG_INFO("{} no such user: {}", describe(), user_);
            closeWithError(proto::sqlstate::kProtocolViolation, "\"trust\" authentication failed");
            return;
        }
        authenticated();
        return;
    }
    state_ = State::Auth;
    if (method == "plain" || method == "password") {
        proto::appendAuthenticationCleartext(out);
    } else if (method == "scram-sha-256" ||
               (method == "md5" && login_->hasSecret && auth::classifySecret(login_->secret) == auth::SecretKind::Scram)) {
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
            authenticationFailed("SCRAM channel binding flag does not match the selected mechanism");
            return;
        }
        // Derived (or parsed) once per stored secret and kept by the worker; an unknown user
        // goes through the exchange against a secret nobody knows, so it looks like a wrong password.
        auth::ScramSecretCache& secrets = connections_.scramSecrets();
        auth::SecretKind kind = auth::SecretKind::Plain;
        const auth::ScramSecret* known = login_->hasSecret ? secrets.secretFor(user_, login_->secret, &kind) : nullptr;
        const auth::ScramSecret secret = known ? *known : secrets.mockSecret(user_);
        // Only a secret PostgreSQL also holds lets the proven keys log in to the server.
        if (known && kind == auth::SecretKind::Scram) login_->storedScram = *known;
        login_->scram = std::make_unique<auth::ScramServer>(secret);
        if (!endPoint.empty()) login_->scram->offerChannelBinding(endPoint);
        if (!login_->scram->handleClientFirst(initial.data, reply, error)) {
            authenticationFailed("malformed SCRAM message: " + error);
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

void ClientConn::authenticationFailed(std::string_view detail) {
    // PgBouncer's texts and SQLSTATE; the same for a wrong password and an unknown user, so that
    // neither tells a stranger which users exist.
    const std::string_view message =
        login_->saslStarted ? "SASL authentication failed" : "password authentication failed";
    if (connections_.settings().log_pooler_errors || connections_.settings().log_connections)
        SLOG_WARN("{} {} for user \"{}\"{}{}", describe(), message, user_, detail.empty() ? "" : ": ", detail);
    closeWithError(proto::sqlstate::kProtocolViolation, message, detail);
}

void ClientConn::configError(std::string_view reason) {
    SLOG_ERROR("{} {}", describe(), reason);
    closeWithError(proto::sqlstate::kProtocolViolation, "bouncer config error", reason);
}

void ClientConn::refuseOverClientLimit(std::string_view limit) {
    // PgBouncer's text and SQLSTATE, which clients and scripts written for it look for.
    closeWithError(proto::sqlstate::kProtocolViolation, fmt::format("client connections exceeded ({})", limit));
}

const config::DatabaseEntry* ClientConn::findDatabaseEntry(const std::string& database) const {
    const auto& config = connections_.config();
    if (auto it = config.databases.find(database); it != config.databases.end()) return &it->second;
    return config.fallbackDatabase ? &*config.fallbackDatabase : nullptr;
}

bool ClientConn::refusedDatabase(const config::DatabaseEntry* entry) {
    if (console_) return false;
    if (!entry) {
        closeWithError(proto::sqlstate::kProtocolViolation, fmt::format("no such database: {}", database_));
        return true;
    }
    if (connections_.isDisabled(database_)) {
        closeWithError(proto::sqlstate::kProtocolViolation, fmt::format("database \"{}\" is disabled", database_));
        return true;
    }
    return false;
}

void ClientConn::authenticated() {
    // As PgBouncer: the database is looked at only once the client has proven who it is, so a
    // stranger learns nothing about database names.
    const config::DatabaseEntry* entry = databaseEntry();
    if (refusedDatabase(entry)) return;
    std::optional<pool::ScramPassthrough> passthrough = std::move(login_->passthrough);
    auto replicationStartup = std::move(login_->replicationStartup);
    // What only the login needed; a replication client's login goes on while its server logs in.
    if (replication_ == Replication::None) login_.reset();
    do {
        uint8_t random[8];  // pid and key in one call: each costs a syscall
        auth::randomBytes(random, sizeof random);
        const CancelKey given = connections_.newCancelKey(random);  // names this worker (and process)
        cancelPid_ = given.pid;
        cancelKey_ = given.key;
    } while (!connections_.registerCancelKey(*this));
    cancelRegistered_ = true;
    if (console_) {
        enterConsole();
        return;
    }
    if (!connections_.config().databases.count(database_) && connections_.registerAutoDatabase(database_))
        SLOG_INFO("{} registered new auto-database: {}", describe(), database_);
    shard_ = &connections_.shardFor(*entry, database_, user_);
    std::string_view limit;
    if (!connections_.admitClient(*shard_, user_, limit)) {
        refuseOverClientLimit(limit);
        return;
    }
    admitted_ = true;
    ++shard_->stats.clientLogins;
    // SCRAM pass-through: servers of this pool log in with the keys this client proved, so no
    // plain password needs to be stored anywhere (only for the user's own server login).
    if (passthrough && shard_->target().serverUser == user_) shard_->pool().rememberScramKeys(*passthrough);
    if (replication_ != Replication::None) {
        // Its own server, never pooled (PgBouncer 1.23+); the welcome is that server's.
        state_ = State::WaitWelcome;
        waitingSince = Clock::now();  // query_wait_timeout bounds its login as a queued client's
        login_->dedicatedServer = connections_.launchDedicatedServer(*shard_, *this, replicationWord(), std::move(replicationStartup));
        return;
    }
    if (sendWelcomeFromCache()) {
        state_ = State::Idle;  // anything the client already sent is read on by onSocketRead's loop
        connections_.handOverAtRest(*this);
        return;
    }
    // A pool that has never had a server, or a parameter value never seen: get a server first,
    // so that the welcome says what SHOW will answer.
    state_ = State::WaitWelcome;
    requestServer();
}

}  // namespace sluice::conn
