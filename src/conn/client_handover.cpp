// The client's part of the online restart (-R; DESIGN §3): leaving for the new process between
// transactions, and being taken in by it.
#include <fmt/format.h>

#include "conn/client_conn.h"
#include "conn/connections.h"
#include "conn/server_conn.h"
#include "proto/codes.h"
#include "util/log.h"

namespace sluice::conn {

bool ClientConn::movable() const {
    if (console_ || replication_ != Replication::None || socket_.isTls() || !shard_) return false;
    // A session keeps its server, with whatever the client left on it (temp tables, SETs): the
    // two go together, if the server's connection can leave this process (not TLS).
    return server_ == nullptr || (shard_->target().mode == pool::PoolMode::Session && !server_->socket().isTls());
}

bool ClientConn::atRest() const {
    if (state_ == State::Idle) return !transactionLost_ && server_ == nullptr;
    return state_ == State::Active && server_ && shard_->target().mode == pool::PoolMode::Session &&
           readyPending_ == 0 && !extendedOpen_ && !streaming() && server_->readyForQuery();
}

std::optional<LeavingClient> ClientConn::handOver() {
    if (!atRest() || !movable() || messageRemaining_ > 0 || !socket_.quiet()) return std::nullopt;
    LeavingClient leaving;
    if (server_) {
        auto server = server_->leaveWithClient();
        if (!server) return std::nullopt;  // its socket is busy or TLS: not now
        leaving.serverStream = std::move(server->first);
        leaving.state.server = std::move(server->second);
        server_ = nullptr;
    }
    auto stream = socket_.detach();  // quiet, so only a failed dup() can refuse
    if (!stream) {
        closeWithError(proto::sqlstate::kConnectionFailure, "the online restart could not move this connection");
        return std::nullopt;
    }
    leaving.stream = std::move(*stream);
    HandedClient& handed = leaving.state;
    handed.user = user_;
    handed.database = database_;
    handed.cancelPid = cancelPid_;
    handed.cancelKey = cancelKey_;
    handed.wanted = wanted_.entries();
    if (startup_) handed.startup = startup_->entries();
    if (statements_)
        for (const auto& [name, statement] : *statements_)
            handed.statements.push_back({name, statement->query, statement->paramTypes});
    if (shard_->target().serverUser == user_) handed.scramKeys = shard_->pool().scramKeys();
    handed.connectedAtNs = monotonicNanos(connectedAt_);
    if (connections_.settings().log_disconnections)
        SLOG_INFO("{} handed over to the new process{}", describe(), handed.server ? " with its server" : "");
    const State previous = state_;
    state_ = State::Closing;
    leave(previous);  // the detached handle closes: onSocketClosed frees us
    return leaving;
}

Result<net::DetachedStream> ClientConn::detachTakeoverChannel() {
    if (!console_ || !socket_.isUnix()) return Error{"TAKEOVER needs a console connection over the unix socket"};
    auto stream = socket_.detach();
    if (!stream) return Error{"TAKEOVER must be the last query sent on its connection"};
    const State previous = state_;
    state_ = State::Closing;
    leave(previous);
    return std::move(*stream);
}

bool ClientConn::adopt(LeavingClient leaving) {
    HandedClient& handed = leaving.state;
    const bool isUnix = leaving.stream.isUnix;
    if (socket_.adopt(std::move(leaving.stream)) != 0) {
        state_ = State::Closing;  // the socket closes itself (if it got as far as a handle)
        return false;
    }
    login_.reset();
    const auto& settings = connections_.settings();
    namePeer();
    if (!isUnix) socket_.applyTcpOptions(connections_.tcpOptions());
    connections_.counters().clients.fetch_add(1, std::memory_order_relaxed);
    counted_ = true;
    user_ = std::move(handed.user);
    database_ = std::move(handed.database);
    connectedAt_ = fromMonotonicNanos(handed.connectedAtNs);
    for (auto& [name, value] : handed.wanted) wanted_.set(name, value);
    if (handed.startup) {
        startup_ = std::make_unique<pool::ServerParams>();
        for (auto& [name, value] : *handed.startup) startup_->set(name, value);
    }
    cancelPid_ = handed.cancelPid;
    cancelKey_ = handed.cancelKey;
    // The client keeps the key it was given; only a key this process made itself could collide.
    cancelRegistered_ = connections_.registerCancelKey(*this);
    state_ = State::Idle;
    const config::DatabaseEntry* entry = findDatabaseEntry(database_);
    if (refusedDatabase(entry)) return true;  // told why, as at a login
    shard_ = &connections_.shardFor(*entry, database_, user_);
    std::string_view limit;
    if (!connections_.admitClient(*shard_, user_, limit)) {
        refuseOverClientLimit(limit);
        return true;
    }
    admitted_ = true;
    if (handed.scramKeys && shard_->target().serverUser == user_) shard_->pool().rememberScramKeys(*handed.scramKeys);
    for (auto& statement : handed.statements)
        preparedStatements()[statement.name] =
            connections_.statementCatalog().intern(statement.query, statement.paramTypes);
    if (handed.server) {
        ServerConn* server =
            connections_.adoptLinkedServer(*shard_, *handed.server, std::move(leaving.serverStream), *this);
        if (!server) {
            closeWithError(proto::sqlstate::kConnectionFailure,
                           "the online restart could not take over this session's server");
            return true;
        }
        server_ = server;
        state_ = State::Active;
    }
    if (settings.log_connections)
        SLOG_INFO("{} taken over from the previous process{}", describe(), server_ ? " with its server" : "");
    lastActivityUs_ = uv_now(connections_.loop()) * 1000;
    socket_.startReading(static_cast<size_t>(settings.pkt_buf));
    return true;
}

}  // namespace sluice::conn
