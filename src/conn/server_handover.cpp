// The server's part of the online restart (-R; DESIGN §3): a session's server leaving for the
// new process with its client, and being taken in there.
#include <cstring>

#include <fmt/format.h>

#include "conn/client_conn.h"
#include "conn/connections.h"
#include "conn/server_conn.h"

namespace sluice::conn {

std::optional<std::pair<net::DetachedStream, HandedServerState>> ServerConn::leaveWithClient() {
    // A TLS session lives in this process's memory and cannot go.
    if (state_ != State::Active || !readyForQuery() || streamRemaining_ > 0 || cancelsInFlight_ > 0 || dedicated() ||
        socket_.isTls())
        return std::nullopt;
    auto stream = socket_.detach();
    if (!stream) return std::nullopt;
    HandedServerState state;
    state.address = address_;
    state.backendPid = backendPid_;
    state.backendKey = backendKey_;
    state.params = params_.entries();
    state.cancelUnixPath = cancelTarget_.unixPath;
    state.cancelAddress.assign(reinterpret_cast<const char*>(&cancelTarget_.address), sizeof cancelTarget_.address);
    state.cancelHostName = cancelTarget_.hostName;
    state.cancelPort = cancelTarget_.port;
    state.connectedAtNs = monotonicNanos(connectedAt_);
    // Gone without a goodbye: the backend lives on in the new process. The handle's close
    // (detach started it) frees this object.
    client_ = nullptr;
    state_ = State::Closing;
    shard_.serverGone(*this);
    lookup_.cancel();
    return std::make_pair(std::move(*stream), std::move(state));
}

bool ServerConn::adoptLinked(net::DetachedStream stream, ClientConn& client) {
    const int rc = socket_.adopt(std::move(stream));
    shard_.serverArrivedInUse(*this);
    if (rc != 0) {
        close(fmt::format("cannot take over a server from the previous process: {}", uv_strerror(rc)));
        return false;
    }
    socket_.startReading(static_cast<size_t>(connections_.settings().pkt_buf));
    link(client);
    return true;
}

ServerConn* Connections::adoptLinkedServer(pool::PoolShard& shard, HandedServerState& state,
                                           net::DetachedStream stream, ClientConn& client) {
    const auto& hosts = shard.target().hostStates;
    size_t index = 0;
    while (index < hosts.size() && hosts[index]->describe() != state.address) ++index;
    if (index == hosts.size()) return nullptr;  // its host left the configuration: the backend ends with `stream`
    HandedServer handed;
    handed.id = nextId();
    handed.host = hosts[index];
    handed.address = std::move(state.address);
    handed.cancelTarget.unixPath = std::move(state.cancelUnixPath);
    if (state.cancelAddress.size() == sizeof handed.cancelTarget.address)
        std::memcpy(&handed.cancelTarget.address, state.cancelAddress.data(), sizeof handed.cancelTarget.address);
    handed.cancelTarget.hostName = std::move(state.cancelHostName);
    handed.cancelTarget.port = state.cancelPort;
    for (const auto& [name, value] : state.params) handed.params.set(name, value);
    handed.backendPid = state.backendPid;
    handed.backendKey = state.backendKey;
    handed.connectedAt = fromMonotonicNanos(state.connectedAtNs);
    handed.servedClient = true;
    shard.pool().takeServerSlot();  // counted like a login of this process (the old one freed its own)
    auto server = std::make_unique<ServerConn>(*this, shard, index, handed);
    ServerConn& ref = *server;
    servers_.emplace(&ref, std::move(server));
    if (!ref.adoptLinked(std::move(stream), client)) {
        if (!ref.socket().hasHandle()) servers_.erase(&ref);
        return nullptr;
    }
    return &ref;
}

}  // namespace sluice::conn
