#include "conn/connections.h"

#include <algorithm>

#include "conn/cancel_forwarder.h"
#include "conn/client_conn.h"
#include "conn/server_conn.h"
#include "util/log.h"

namespace sluice::conn {

namespace {
uint64_t cancelKeyOf(int32_t pid, int32_t key) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(pid)) << 32) | static_cast<uint32_t>(key);
}
}  // namespace

Connections::Connections(uv_loop_t* loop, pool::PoolRegistry& pools, ProcessCounters& counters, Snapshot snapshot)
    : loop_(loop), pools_(pools), counters_(counters), snapshot_(std::move(snapshot)) {}

Connections::~Connections() = default;

void Connections::setSnapshot(Snapshot snapshot) {
    snapshot_ = std::move(snapshot);
    const auto& settings = snapshot_.config->settings;
    for (auto& [key, shard] : shards_) {
        shard->setOptions(settings.server_login_retry, settings.server_round_robin);
        const auto& [database, poolUser] = key;
        const config::DatabaseEntry* entry = nullptr;
        if (auto it = config().databases.find(database); it != config().databases.end()) entry = &it->second;
        else if (config().fallbackDatabase) entry = &*config().fallbackDatabase;
        if (entry) {
            std::string secret;
            if (auto it = authFile().find(poolUser); it != authFile().end()) secret = it->second;
            shard->sharedPool()->setTarget(pool::resolvePoolTarget(config(), *entry, database, poolUser, secret));
            shard->refreshTarget();
        }
        // Servers opened for a changed (or removed) entry go now if idle, or when their client is done.
        std::vector<ServerConn*> outdated;
        shard->forEachIdle([&](pool::PooledServer& server) {
            if (!entry || !shard->isCurrent(server)) outdated.push_back(static_cast<ServerConn*>(&server));
        });
        for (ServerConn* server : outdated) server->close("database configuration changed");
    }
}

net::Socket::TcpOptions Connections::tcpOptions() const {
    const auto& s = settings();
    return {s.tcp_keepalive, static_cast<int>(s.tcp_keepidle), static_cast<int>(s.tcp_keepintvl),
            static_cast<int>(s.tcp_keepcnt), static_cast<int>(s.tcp_user_timeout)};
}

void Connections::acceptClient(uv_stream_t* listener, bool isUnix) {
    auto client = std::make_unique<ClientConn>(*this, nextId());
    ClientConn& ref = *client;
    clients_.emplace(&ref, std::move(client));
    if (ref.socket().open(isUnix) != 0) {
        clients_.erase(&ref);
        return;
    }
    if (!ref.accept(listener, isUnix)) ref.close("accept failed");
}

pool::PoolShard& Connections::shardFor(const config::DatabaseEntry& entry, const std::string& database,
                                       const std::string& clientUser) {
    const std::string& poolUser = entry.user.empty() ? clientUser : entry.user;
    std::string secret;
    if (auto it = authFile().find(poolUser); it != authFile().end()) secret = it->second;
    auto target = pool::resolvePoolTarget(config(), entry, database, clientUser, secret);
    auto& slot = shards_[{database, poolUser}];
    if (!slot) {
        auto pool = pools_.get(database, poolUser, std::move(target));
        slot = std::make_unique<pool::PoolShard>(
            std::move(pool), [this](pool::PoolShard& shard) { launchServer(shard); }, settings().server_login_retry,
            settings().server_round_robin);
        if (paused_) slot->pause();
    } else {
        slot->sharedPool()->setTarget(std::move(target));
        slot->refreshTarget();
    }
    return *slot;
}

void Connections::launchServer(pool::PoolShard& shard) {
    auto server = std::make_unique<ServerConn>(*this, shard, nextId());
    ServerConn& ref = *server;
    servers_.emplace(&ref, std::move(server));
    ref.connect();
    if (ref.state() == ServerConn::State::Closing && !ref.socket().isOpen() && !ref.poolHook.linked())
        servers_.erase(&ref);  // it never got a handle
}

void Connections::registerCancelKey(ClientConn& client) { cancelKeys_[cancelKeyOf(client.cancelPid(), client.cancelKey())] = &client; }

void Connections::unregisterCancelKey(ClientConn& client) {
    auto it = cancelKeys_.find(cancelKeyOf(client.cancelPid(), client.cancelKey()));
    if (it != cancelKeys_.end() && it->second == &client) cancelKeys_.erase(it);
}

ClientConn* Connections::findByCancelKey(int32_t pid, int32_t key) {
    auto it = cancelKeys_.find(cancelKeyOf(pid, key));
    return it == cancelKeys_.end() ? nullptr : it->second;
}

void Connections::forwardCancel(ServerConn& server) {
    auto forwarder = std::make_unique<CancelForwarder>(
        loop_, server.shard().target().host, server.shard().target().port, server.backendPid(), server.backendKey(),
        [this](CancelForwarder& done) {
            std::erase_if(cancels_, [&](const std::unique_ptr<CancelForwarder>& f) { return f.get() == &done; });
        });
    CancelForwarder& ref = *forwarder;
    cancels_.push_back(std::move(forwarder));
    ref.start();
}

void Connections::destroy(ClientConn& client) { clients_.erase(&client); }

void Connections::destroy(ServerConn& server) { servers_.erase(&server); }

void Connections::checkTimeouts() {
    const auto& s = settings();
    const TimePoint now = Clock::now();
    const uint64_t nowMs = uv_now(loop_);
    // Collected first: closing one connection may hand servers to (or free) others.
    std::vector<ClientConn*> clients;
    clients.reserve(clients_.size());
    for (auto& [ptr, client] : clients_) clients.push_back(ptr);
    for (ClientConn* client : clients)
        if (clients_.count(client)) client->checkTimeouts(nowMs);

    std::vector<ServerConn*> stale;
    for (auto& [ptr, server] : servers_) {
        const auto state = server->state();
        if ((state == ServerConn::State::Connecting || state == ServerConn::State::Login) &&
            s.server_connect_timeout > 0 && secondsSince(server->connectedAt(), now) >= s.server_connect_timeout)
            stale.push_back(ptr);
    }
    for (ServerConn* server : stale) {
        Error error{"server_connect_timeout: no answer from the server in time", "08006"};
        server->shard().serverLoginFailed(*server, error);
        server->close("connect timeout");
    }

    if (s.cancel_wait_timeout > 0) {
        std::vector<CancelForwarder*> late;
        for (auto& cancel : cancels_)
            if (secondsSince(cancel->startedAt(), now) >= s.cancel_wait_timeout) late.push_back(cancel.get());
        for (CancelForwarder* cancel : late) {
            SLOG_WARN("cancel request not delivered within cancel_wait_timeout; dropped");
            cancel->abandon();
        }
    }

    if (paused_) closeIdleServers("pause");
    for (auto& [key, shard] : shards_) {
        shard->maintain(now);
        std::vector<ServerConn*> idleExpired;
        const double lifetime = shard->target().serverLifetime;
        shard->forEachIdle([&](pool::PooledServer& pooled) {
            auto& server = static_cast<ServerConn&>(pooled);
            if (s.server_idle_timeout > 0 && secondsSince(server.idleSince, now) >= s.server_idle_timeout)
                idleExpired.push_back(&server);
            else if (lifetime > 0 && secondsSince(server.connectedAt(), now) >= lifetime)
                idleExpired.push_back(&server);
        });
        for (ServerConn* server : idleExpired)
            server->close(secondsSince(server->idleSince, now) >= s.server_idle_timeout && s.server_idle_timeout > 0
                              ? "server idle timeout"
                              : "server lifetime over");
    }
}

void Connections::pause() {
    paused_ = true;
    for (auto& [key, shard] : shards_) shard->pause();
    closeIdleServers("pause");
}

void Connections::resume() {
    paused_ = false;
    for (auto& [key, shard] : shards_) shard->resume();
}

void Connections::closeAllClients(std::string_view reason) {
    std::vector<ClientConn*> all;
    for (auto& [ptr, client] : clients_) all.push_back(ptr);
    for (ClientConn* client : all) client->closeWithError("57P01", reason);
}

void Connections::closeIdleServers(std::string_view reason) {
    for (auto& [key, shard] : shards_) {
        std::vector<ServerConn*> idle;
        shard->forEachIdle([&](pool::PooledServer& server) { idle.push_back(static_cast<ServerConn*>(&server)); });
        for (ServerConn* server : idle) server->close(reason);
    }
}

void Connections::closeAllServers(std::string_view reason) {
    std::vector<ServerConn*> all;
    for (auto& [ptr, server] : servers_) all.push_back(ptr);
    for (ServerConn* server : all) server->close(reason);
}

size_t Connections::activeServerCount() const {
    return static_cast<size_t>(std::count_if(servers_.begin(), servers_.end(), [](const auto& entry) {
        return entry.second->state() != ServerConn::State::Idle;
    }));
}

}  // namespace sluice::conn
