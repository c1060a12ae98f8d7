#include "conn/connections.h"

#include <algorithm>

#include <fmt/format.h>

#include "conn/cancel_forwarder.h"
#include "conn/client_conn.h"
#include "conn/server_conn.h"
#include "proto/codes.h"
#include "util/log.h"

namespace sluice::conn {

Connections::Connections(uv_loop_t* loop, pool::PoolRegistry& pools, ProcessCounters& counters, Snapshot snapshot)
    : loop_(loop),
      pools_(pools),
      counters_(counters),
      snapshot_(std::move(snapshot)),
      peerCanceler_(loop, counters.peerCancels, [this]() -> const config::Config& { return config(); }) {
    openForcedUserPools();
}

// As PgBouncer: a database entry with a forced user has its pool from the start, so that
// min_pool_size servers are opened before any client arrives.
void Connections::openForcedUserPools() {
    for (const auto& [name, entry] : config().databases)
        if (!entry.user.empty() && entry.minPoolSize.value_or(static_cast<int>(settings().min_pool_size)) > 0)
            shardFor(entry, name, entry.user);
}

Connections::~Connections() {
    for (ClientConn* client : allClients()) destroy(*client);
}

ClientConn& Connections::adoptClientObject(std::unique_ptr<ClientConn> client) {
    ClientConn& ref = *client.release();  // freed by destroy
    watchedClients_.pushBack(ref);
    return ref;
}

std::vector<ClientConn*> Connections::allClients() {
    std::vector<ClientConn*> all;
    all.reserve(clientCount());
    auto add = [&all](ClientConn& client) { all.push_back(&client); };
    watchedClients_.forEach(add);
    quietClients_.forEach(add);
    return all;
}

void Connections::setSnapshot(Snapshot snapshot) {
    const bool serverTlsChanged = snapshot_.config && snapshot_.serverTls.settings != snapshot.serverTls.settings;
    snapshot_ = std::move(snapshot);
    scramSecrets_.clear();
    // The new settings may give quiet clients a timeout: the next sweep looks at every client.
    while (ClientConn* client = quietClients_.popFront()) watchedClients_.pushBack(*client);
    openForcedUserPools();
    const auto& settings = snapshot_.config->settings;
    for (auto& [key, shard] : shards_) {
        shard->setOptions(settings.server_login_retry, settings.server_round_robin);
        // As a changed host does: servers made with the old TLS settings are replaced, and a
        // login failure under them is not held against the new ones (PgBouncer's dirty pools).
        if (serverTlsChanged) shard->serverSettingsChanged();
        const auto& [database, poolUser] = key;
        const config::DatabaseEntry* entry = nullptr;
        if (auto it = config().databases.find(database); it != config().databases.end()) entry = &it->second;
        else if (config().fallbackDatabase) entry = &*config().fallbackDatabase;
        if (entry) {
            std::string secret;
            if (auto it = authFile().find(poolUser); it != authFile().end()) secret = it->second;
            shard->sharedPool()->setTarget(pool::resolvePoolTarget(config(), *entry, database, poolUser, secret, pools_.hosts()));
            shard->refreshTarget();
        }
        // Servers opened for a changed (or removed) entry go now if idle, or when their client is done.
        std::vector<ServerConn*> outdated;
        auto* poolShard = shard.get();  // clang 14 (make fuzz) cannot capture a structured binding in a lambda
        poolShard->forEachIdle([&](pool::PooledServer& server) {
            if (!entry || !poolShard->isCurrent(server)) outdated.push_back(static_cast<ServerConn*>(&server));
        });
        for (ServerConn* server : outdated) server->close("database configuration changed");
    }
}

net::Socket::TcpOptions tcpOptionsFrom(const config::Settings& s) {
    return {s.tcp_keepalive, static_cast<int>(s.tcp_keepidle), static_cast<int>(s.tcp_keepintvl),
            static_cast<int>(s.tcp_keepcnt), static_cast<int>(s.tcp_user_timeout)};
}

net::Socket::TcpOptions Connections::tcpOptions() const { return tcpOptionsFrom(settings()); }

void Connections::acceptClient(uv_stream_t* listener, bool isUnix) {
    auto client = std::make_unique<ClientConn>(*this, nextId());
    if (client->socket().open(isUnix) != 0) return;
    ClientConn& ref = adoptClientObject(std::move(client));
    if (!ref.accept(listener)) ref.close("accept failed");
    else ref.socket().readAvailable();  // the startup packet, one epoll_wait early
}

pool::PoolShard& Connections::shardFor(const config::DatabaseEntry& entry, const std::string& database,
                                       const std::string& clientUser) {
    const std::string& poolUser = entry.user.empty() ? clientUser : entry.user;
    auto& slot = shards_[{database, poolUser}];
    // A shard's target changes only with the configuration, and setSnapshot resolves it again
    // then: a login to an existing shard resolves nothing (that was a sixtieth of its work).
    if (!slot) {
        std::string secret;
        if (auto it = authFile().find(poolUser); it != authFile().end()) secret = it->second;
        auto target = pool::resolvePoolTarget(config(), entry, database, clientUser, secret, pools_.hosts());
        auto pool = pools_.get(database, poolUser, std::move(target));
        slot = std::make_unique<pool::PoolShard>(
            std::move(pool), [this](pool::PoolShard& shard) { launchServer(shard); }, settings().server_login_retry,
            settings().server_round_robin);
        slot->setRoomMaker([this](pool::PoolShard& asking, bool databaseLimit) {
            return closeIdleServerForRoom(asking, databaseLimit);
        });
        if (mesh_ && mesh_->workerCount() > 1)
            slot->setRoomSharing(
                workerIndex_, [this](pool::PoolShard& asking) { offerToOtherWorkers(asking); },
                [this](pool::PoolShard& giving, pool::PooledServer& server, TimePoint waitingSince) {
                    return giveRoom(giving, static_cast<ServerConn&>(server), waitingSince);
                });
        if (paused_ || pausedDatabases_.count(database)) slot->pause();
    }
    return *slot;
}

void Connections::launchServer(pool::PoolShard& shard) {
    auto host = shard.chooseHost();
    if (!host) return;  // no host qualifies now: clients wait (hostsChanged() launches again)
    auto server = std::make_unique<ServerConn>(*this, shard, nextId(), *host);
    ServerConn& ref = *server;
    servers_.emplace(&ref, std::move(server));
    ref.connect();
    // No handle was made (else its close frees the server: a connect that failed at once, such
    // as to an unreachable network, is still closing).
    if (ref.state() == ServerConn::State::Closing && !ref.socket().hasHandle()) servers_.erase(&ref);
}

ServerConn* Connections::launchDedicatedServer(pool::PoolShard& shard, ClientConn& client,
                                               const std::string& replication,
                                               std::vector<std::pair<std::string, std::string>> startup) {
    auto host = shard.chooseHost();
    if (!host) {
        client.onServerUnavailable(Error{"no host can serve this database now", "08006"});
        return nullptr;
    }
    auto server = std::make_unique<ServerConn>(*this, shard, nextId(), *host);
    ServerConn& ref = *server;
    servers_.emplace(&ref, std::move(server));
    ref.dedicate(client, replication == "database" ? "logical" : "physical", std::move(startup));
    ref.connect();
    if (ref.state() == ServerConn::State::Closing) {
        if (!ref.socket().hasHandle()) servers_.erase(&ref);  // it never got a handle
        client.onServerUnavailable(Error{"could not open a server connection", "08006"});
        return nullptr;
    }
    return &ref;
}

bool Connections::registerCancelKey(ClientConn& client) {
    if (cancelKeys_.find(clientCancelKey(client))) return false;
    cancelKeys_.insert(client);
    return true;
}

void Connections::unregisterCancelKey(ClientConn& client) { cancelKeys_.erase(client); }

void Connections::cancel(int32_t pid, int32_t key, ClientConn& requester) {
    const uint64_t ticket = requester.id();
    cancelRequesters_[ticket] = &requester;
    if (const int peerId = settings().peer_id; peerId > 0) {
        if (const int peer = cancelKeyPeer(pid); peer != peerId) {
            peerCanceler_.forward(peer, pid, key, [this, ticket](CancelOutcome outcome) { answerCancelRequester(ticket, outcome); });
            return;
        }
        key |= kCancelTtlMask;  // ours: the keys we gave carry a full TTL, whatever hops it took
    }
    const int owner = cancelKeyWorker(pid);
    if (pid < 0 || !mesh_ || owner == workerIndex_ || owner >= mesh_->workerCount()) {
        cancelOwnClient(pid, key, [this, ticket](CancelOutcome outcome) { answerCancelRequester(ticket, outcome); });
        return;
    }
    // The owner cancels; its answer comes back here, where the requester is.
    WorkerMesh* mesh = mesh_;
    const int here = workerIndex_;
    mesh_->postToWorker(owner, [pid, key, mesh, here, ticket](Connections& connections) {
        connections.cancelOwnClient(pid, key, [mesh, here, ticket](CancelOutcome outcome) {
            mesh->postToWorker(here, [ticket, outcome](Connections& back) { back.answerCancelRequester(ticket, outcome); });
        });
    });
}

void Connections::cancelOwnClient(int32_t pid, int32_t key, CancelAnswer answer) {
    ClientConn* target = findByCancelKey(pid, key);
    if (!target) {
        answer(CancelOutcome::UnknownKey);
    } else if (target->server()) {
        forwardCancel(*target->server(), std::move(answer));
    } else if (target->state() == ClientConn::State::Waiting) {
        target->cancelWhileWaiting();
        answer(CancelOutcome::Delivered);
    } else {
        answer(CancelOutcome::IdleClient);  // its query ended before the cancel came
    }
}

void Connections::answerCancelRequester(uint64_t requester, CancelOutcome outcome) {
    auto it = cancelRequesters_.find(requester);
    if (it == cancelRequesters_.end()) return;  // it left meanwhile
    ClientConn* client = it->second;
    cancelRequesters_.erase(it);
    client->cancelAnswered(outcome);
}

ClientConn* Connections::findByCancelKey(int32_t pid, int32_t key) {
    return cancelKeys_.find(cancelKeyOf(pid, key));
}

void Connections::forwardCancel(ServerConn& server, CancelAnswer answer) {
    server.cancelStarted();  // not reused by another client until this is done
    auto forwarder = std::make_unique<CancelForwarder>(
        loop_, server.cancelTarget(), server.backendPid(), server.backendKey(),
        [this, serverId = server.id(), answer = std::move(answer)](CancelForwarder& done, CancelOutcome outcome) {
            // Erasing the forwarder frees this lambda: what it needs after that is copied first.
            Connections& self = *this;
            const uint64_t canceled = serverId;
            CancelAnswer tell = std::move(answer);
            std::erase_if(self.cancels_, [&](const std::unique_ptr<CancelForwarder>& f) { return f.get() == &done; });
            for (auto& [ptr, candidate] : self.servers_)  // it may have closed meanwhile; cancels are rare
                if (candidate->id() == canceled) {
                    candidate->cancelFinished();
                    break;
                }
            tell(outcome);
        });
    CancelForwarder& ref = *forwarder;
    cancels_.push_back(std::move(forwarder));
    ref.start();
}

void Connections::destroy(ClientConn& client) {
    handOversQueued_.erase(&client);
    watchedClients_.remove(client);
    quietClients_.remove(client);
    delete &client;  // adoptClientObject's
}

void Connections::destroy(ServerConn& server) { servers_.erase(&server); }

void Connections::checkTimeouts() {
    if (!handOversQueued_.empty()) flushHandOvers();  // those whose output was slow to go
    const auto& s = settings();
    const TimePoint now = Clock::now();
    const uint64_t nowUs = nowMicros();
    // Closing a client frees it later (when its socket is closed), so the walk stays valid; the
    // only list change made during it is the visited client's own move to the quiet list.
    watchedClients_.forEach([&](ClientConn& client) {
        client.checkTimeouts(nowUs);
        if (client.quiet()) quietClients_.pushBack(client);
    });

    std::vector<ServerConn*> stale;
    for (auto& [ptr, server] : servers_) {
        const auto state = server->state();
        if ((state == ServerConn::State::Connecting || state == ServerConn::State::TlsRequest ||
             state == ServerConn::State::Login) &&
            s.server_connect_timeout > 0 && secondsSince(server->connectedAt(), now) >= s.server_connect_timeout)
            stale.push_back(ptr);
    }
    for (ServerConn* server : stale) server->connectFailed("connect timeout");

    if (s.cancel_wait_timeout > 0) {
        std::vector<CancelForwarder*> late;
        for (auto& cancel : cancels_)
            if (!cancel->sent() && secondsSince(cancel->startedAt(), now) >= s.cancel_wait_timeout)
                late.push_back(cancel.get());
        for (CancelForwarder* cancel : late) cancel->abandon();  // its requester logs why it closes
    }
    peerCanceler_.sweep(now);

    for (auto& [key, shard] : shards_) shard->maintain(now);
    for (auto& [key, shard] : shards_) shard->fillMinimum();  // after every waiting client's turn
    for (auto& [key, shard] : shards_) {
        if (shard->paused()) closeIdleServers("pause", key.first);
        std::vector<std::pair<ServerConn*, const char*>> idleExpired;
        const pool::PoolTarget& target = shard->target();
        // As PgBouncer: server_idle_timeout never takes a pool below min_pool_size (lifetime does;
        // fillMinimum() then opens fresh servers), and lifetime closes are spread (retireForLifetime).
        int closable = shard->pool().serverCount() - target.minPoolSize;
        shard->forEachIdle([&](pool::PooledServer& pooled) {
            auto& server = static_cast<ServerConn&>(pooled);
            if (s.server_idle_timeout > 0 && closable > 0 &&
                secondsSince(server.idleSince, now) >= s.server_idle_timeout) {
                idleExpired.emplace_back(&server, "server idle timeout");
                --closable;
            } else if (shard->pool().retireForLifetime(server.connectedAt(), target.serverLifetime, target.poolSize,
                                                       now)) {
                idleExpired.emplace_back(&server, "server lifetime over");
                --closable;
            }
        });
        for (auto [server, reason] : idleExpired) server->close(reason);
    }
}

bool Connections::closeIdleServerForRoom(pool::PoolShard& asking, bool databaseLimit) {
    const std::string& database = asking.pool().database();
    const std::string& user = asking.pool().user();
    if (closeIdleServerSharing(database, user, databaseLimit)) return true;
    // The idle server may be on another worker: ask them in turn until one closes one. The
    // slot is free once it has; the asking shard's next sweep (maintain) takes it. At most one
    // such round per sweep period: every client that finds the limit full comes here.
    if (mesh_ && mesh_->workerCount() > 1 && secondsSince(roomAskedElsewhereAt_) * 1000 >= kSweepMillis) {
        roomAskedElsewhereAt_ = Clock::now();
        askNextWorkerForRoom(database, user, databaseLimit, mesh_->workerCount() - 1);
    }
    return false;
}

bool Connections::closeIdleServerSharing(const std::string& database, const std::string& user, bool databaseLimit) {
    for (auto& [key, shard] : shards_) {
        if (key.first == database && key.second == user) continue;  // the asking pool itself
        const bool shares = databaseLimit ? key.first == database : key.second == user;
        if (!shares || shard->idleCount() == 0) continue;
        auto* oldest = static_cast<ServerConn*>(shard->oldestIdle());
        oldest->close("evicted");  // PgBouncer's reason, for max_db_connections and max_user_connections alike
        return true;
    }
    return false;
}

void Connections::askNextWorkerForRoom(std::string database, std::string user, bool databaseLimit, int workersLeft) {
    const int next = (workerIndex_ + 1) % mesh_->workerCount();
    mesh_->postToWorker(next, [database = std::move(database), user = std::move(user), databaseLimit,
                               workersLeft](Connections& other) mutable {
        if (!other.closeIdleServerSharing(database, user, databaseLimit) && workersLeft > 1)
            other.askNextWorkerForRoom(std::move(database), std::move(user), databaseLimit, workersLeft - 1);
    });
}

void Connections::offerToOtherWorkers(pool::PoolShard& asking) {
    const std::string database = asking.pool().database(), user = asking.pool().user();
    for (int worker = 0; worker < mesh_->workerCount(); ++worker) {
        if (worker == workerIndex_) continue;
        mesh_->postToWorker(worker, [database, user](Connections& other) {
            if (auto it = other.shards_.find({database, user}); it != other.shards_.end()) it->second->offerIdleServer();
        });
    }
}

bool Connections::giveRoom(pool::PoolShard& giving, ServerConn& server, TimePoint waitingSince) {
    auto to = giving.pool().takeRoomRequest(waitingSince, workerIndex_);
    if (!to) return false;
    const std::string database = giving.pool().database(), user = giving.pool().user();
    WorkerMesh* mesh = mesh_;
    // Hand-off (DESIGN §3): the connection itself goes to the other worker, logged in, with its
    // slot, parameters and prepared statements.
    if (std::shared_ptr<HandedServer> handed = server.handOff()) {
        SLOG_DEBUG("{} handed to worker {}", server.describe(), *to);
        counters_.serverHandOffs.fetch_add(1, std::memory_order_relaxed);
        mesh->postToWorker(*to, [database, user, handed, pool = giving.sharedPool()](Connections& other) {
            other.adoptServer(database, user, *handed, *pool);
        });
        return true;
    }
    // Give-away, when it cannot go as it is (output or input in its buffers): the server closes
    // here, its slot goes with the word, and the other worker opens a server with it.
    counters_.serverGiveAways.fetch_add(1, std::memory_order_relaxed);
    server.closeHandingOnSlot("server slot given to a client waiting on another worker",
                              [mesh, worker = *to, database, user, pool = giving.sharedPool()] {
                                  mesh->postToWorker(worker, [database, user, pool](Connections& other) {
                                      auto it = other.shards_.find({database, user});
                                      if (it != other.shards_.end()) it->second->roomGiven();
                                      else pool->releaseServerSlot();
                                  });
                              });
    return true;
}

void Connections::adoptServer(const std::string& database, const std::string& user, HandedServer& handed,
                              pool::Pool& pool) {
    auto it = shards_.find({database, user});
    if (it != shards_.end()) {
        const auto& hosts = it->second->target().hostStates;
        for (size_t index = 0; index < hosts.size(); ++index) {
            if (hosts[index] != handed.host) continue;
            auto server = std::make_unique<ServerConn>(*this, *it->second, index, handed);
            ServerConn& ref = *server;
            servers_.emplace(&ref, std::move(server));
            ref.adopt(std::move(handed.stream));
            if (ref.state() == ServerConn::State::Closing && !ref.socket().hasHandle()) servers_.erase(&ref);
            return;
        }
    }
    // The pool or its host went from this worker's configuration on the way (a RELOAD): the
    // connection ends with `handed`, its slot is given back.
    pool.releaseServerSlot();
}

void Connections::hostsChanged() {
    // A host the prober found down (it stopped answering: hung, crashed, cut off) keeps no
    // server: those in use fail their client's request instead of hanging on it, and the
    // client's next transaction goes to a host that answers.
    std::vector<ServerConn*> stranded;
    for (auto& [ptr, server] : servers_)
        if (server->shard().target().multiHost() && server->host().view().health == discovery::Health::Down)
            stranded.push_back(ptr);
    for (ServerConn* server : stranded)
        server->lost(Error{fmt::format("host {} is down", server->host().describe()),
                           std::string(proto::sqlstate::kConnectionFailure)});
    for (auto& [key, shard] : shards_)
        shard->hostsChanged([](pool::PooledServer& server) {
            static_cast<ServerConn&>(server).close("host no longer serves this database (role or health changed)");
        });
}

void Connections::pause(const std::string& database) {
    if (database.empty()) paused_ = true;
    else pausedDatabases_.insert(database);
    for (auto& [key, shard] : shards_)
        if (database.empty() || key.first == database) shard->pause();
    closeIdleServers("pause", database);
}

void Connections::resume(const std::string& database) {
    if (database.empty()) {
        paused_ = false;
        pausedDatabases_.clear();
    } else {
        pausedDatabases_.erase(database);
    }
    if (suspended_ && database.empty()) {
        suspended_ = false;
        for (ClientConn* client : allClients()) client->resumeAfterSuspend();
        for (auto& [ptr, server] : servers_) server->resumeReading();
    }
    for (auto& [key, shard] : shards_)
        if (!paused_ && !pausedDatabases_.count(key.first)) shard->resume();
}

void Connections::setDisabled(const std::string& database, bool disabled) {
    if (disabled) disabled_.insert(database);
    else disabled_.erase(database);
}

void Connections::reconnect(const std::string& database) {
    for (auto& [key, shard] : shards_)
        if (database.empty() || key.first == database) shard->reconnect();
    closeIdleServers("RECONNECT", database);
}

void Connections::kill(const std::string& database) {
    pause(database);
    for (ClientConn* client : allClients())
        if (!client->isConsole() && (database.empty() || client->database() == database))
            client->closeWithError("57P01", "database killed (admin console KILL)");
    std::vector<ServerConn*> servers;
    for (auto& [ptr, server] : servers_)
        if (database.empty() || server->shard().pool().database() == database) servers.push_back(ptr);
    for (ServerConn* server : servers) server->close("database killed (admin console KILL)");
}

bool Connections::killClient(uint64_t id) {
    for (ClientConn* client : allClients()) {
        if (client->id() != id) continue;
        client->closeWithError("57P01", "admin forced disconnect");
        return true;
    }
    return false;
}

void Connections::suspend() {
    suspended_ = true;
    for (ClientConn* client : allClients())
        if (!client->isConsole()) client->socket().stopReading();
    for (auto& [ptr, server] : servers_) server->socket().stopReading();
}

void Connections::submitConsoleQuery(ClientConn& client, bool adminUser, std::string query) {
    if (!gateway_) {
        client.closeWithError("XX000", "the admin console is not available");
        return;
    }
    gateway_->submit(ConsoleRequest{workerIndex_, client.id(), adminUser, client.user(), std::move(query)});
}

int64_t Connections::userClientLimit(const std::string& user) const {
    int64_t limit = settings().max_user_client_connections;
    if (auto it = config().users.find(user); it != config().users.end())
        limit = it->second.maxUserClientConnections.value_or(limit);
    return limit;
}

bool Connections::registerConsoleClient(ClientConn& client, bool exempt, std::string_view& which) {
    // One counter for the console's database whichever alias the client named (pgbouncer, sluice).
    pool::ClientLimits limits = pools_.clientLimits("pgbouncer", client.user());
    if (!limits.tryAdmit(exempt ? 0 : settings().max_db_client_connections, exempt ? 0 : userClientLimit(client.user()),
                         which))
        return false;
    consoleClients_.emplace(client.id(), ConsoleClient{&client, std::move(limits)});
    return true;
}

bool Connections::admitClient(pool::PoolShard& shard, const std::string& user, std::string_view& which) {
    pool::ClientLimits limits = pools_.clientLimits(shard.pool().database(), user);
    if (!limits.tryAdmit(shard.target().maxDbClientConnections, userClientLimit(user), which)) return false;
    shard.pool().clientArrived();
    return true;
}

void Connections::releaseClient(pool::PoolShard& shard, const std::string& user) {
    pools_.clientLimits(shard.pool().database(), user).release();
    shard.pool().clientLeft();
}

void Connections::unregisterConsoleClient(ClientConn& client) {
    auto it = consoleClients_.find(client.id());
    if (it == consoleClients_.end()) return;
    it->second.limits.release();
    consoleClients_.erase(it);
}

void Connections::deliverConsoleReply(uint64_t clientId, const std::string& bytes, bool closeAfter) {
    auto it = consoleClients_.find(clientId);
    if (it != consoleClients_.end()) it->second.client->consoleReply(bytes, closeAfter);
}

WorkerReport Connections::report() const {
    WorkerReport report;
    report.clientObjects = clientCount();
    report.serverObjects = servers_.size();
    report.peerCancels = peerCanceler_.counts();
    std::map<const pool::PoolShard*, PoolRow> pools;
    for (const auto& [key, shard] : shards_) {
        PoolRow& row = pools[shard.get()];
        row.database = key.first;
        row.user = key.second;
        row.poolMode = std::string(pool::poolModeName(shard->target().mode));
        row.stats = shard->stats;
        shard->forEachWaiting([&](const pool::PoolWaiter& waiter) {
            row.maxWaitMicros = std::max<int64_t>(row.maxWaitMicros,
                                                  static_cast<int64_t>(secondsSince(waiter.waitingSince) * 1e6));
        });
    }
    forEachClient([&](const ClientConn& client) {
        ConnectionRow row;
        client.describeRow(row);
        if (row.listState == "cl_login") {
            report.loginClients.push_back(std::move(row));
            return;
        }
        if (client.isConsole()) ++report.adminClients;
        if (auto it = pools.find(client.shard()); client.shard() && it != pools.end()) {
            if (row.state == "waiting") ++it->second.clientsWaiting;
            else ++it->second.clientsActive;
        }
        report.clients.push_back(std::move(row));
    });
    for (const auto& [ptr, server] : servers_) {
        ConnectionRow row;
        server->describeRow(row);
        if (row.state == "closing") continue;
        if (auto it = pools.find(&server->shard()); it != pools.end()) {
            PoolRow& pool = it->second;
            if (row.state == "active") ++pool.serversActive;
            else if (row.state == "idle") ++pool.serversIdle;
            else if (row.state == "used") ++pool.serversUsed;
            else if (row.state == "tested") ++pool.serversTested;
            else if (row.state == "new") ++pool.serversLogin;
            else if (row.state == "being_canceled") ++pool.serversBeingCanceled;
            pool.cancelsInFlight += server->cancelsInFlight();
        }
        report.servers.push_back(std::move(row));
    }
    for (auto& [shard, row] : pools) report.pools.push_back(std::move(row));
    return report;
}

void Connections::closeAllClients(std::string_view reason) {
    for (ClientConn* client : allClients()) client->closeWithError("57P01", reason);
}

void Connections::beginShutdown(bool waitForServers) {
    acceptingLogins_ = false;
    closeIdleServers("shutdown in progress");
    if (!waitForServers) return;
    refusingServers_ = true;
    for (ClientConn* client : allClients())
        if (client->state() == ClientConn::State::Waiting) client->closeWithError(proto::sqlstate::kProtocolViolation, "server shutting down");
}

void Connections::closeIdleServers(std::string_view reason, const std::string& database) {
    for (auto& [key, shard] : shards_) {
        if (!database.empty() && key.first != database) continue;
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
