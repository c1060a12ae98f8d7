// Every connection one worker owns, and what they share on that worker: the config snapshot,
// the pool shards, the cancel keys, the timeout sweep. Its thread is the only one that touches
// any of it (DESIGN §3); the Worker in server/ drives it.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "auth/auth_file.h"
#include "config/config.h"
#include "net/socket.h"
#include "pool/pool_registry.h"
#include "pool/pool_shard.h"
#include "util/result.h"

namespace sluice::conn {

class ClientConn;
class ServerConn;

// What the worker's connections are configured by; replaced as a whole on reload.
struct Snapshot {
    std::shared_ptr<const config::Config> config;
    std::shared_ptr<const auth::AuthFile> authFile;
};

// Counters shared by all workers (limits that span the process).
struct ProcessCounters {
    std::atomic<int64_t> clients{0};
    std::atomic<uint64_t> nextConnectionId{1};
};

class Connections {
public:
    Connections(uv_loop_t* loop, pool::PoolRegistry& pools, ProcessCounters& counters, Snapshot snapshot);
    ~Connections();

    uv_loop_t* loop() const { return loop_; }
    const config::Config& config() const { return *snapshot_.config; }
    const config::Settings& settings() const { return snapshot_.config->settings; }
    const auth::AuthFile& authFile() const { return *snapshot_.authFile; }
    void setSnapshot(Snapshot snapshot);

    // A new client on a listening socket.
    void acceptClient(uv_stream_t* listener, bool isUnix);

    // The shard serving (database, user) on this worker; made on first use. `entry` is the
    // database entry the client resolved to (its own or the "*" fallback).
    pool::PoolShard& shardFor(const config::DatabaseEntry& entry, const std::string& database,
                              const std::string& clientUser);

    // Cancel keys: the BackendKeyData each client was given.
    void registerCancelKey(ClientConn& client);
    void unregisterCancelKey(ClientConn& client);
    ClientConn* findByCancelKey(int32_t pid, int32_t key);
    void forwardCancel(ServerConn& server);

    // Called by a connection once its socket is closed: frees it.
    void destroy(ClientConn& client);
    void destroy(ServerConn& server);

    // The periodic sweep: login, wait and idle timeouts.
    void checkTimeouts();

    // Shutdown and PAUSE support.
    void stopAcceptingLogins() { acceptingLogins_ = false; }
    bool acceptingLogins() const { return acceptingLogins_; }
    // PAUSE (SIGUSR1): servers are closed as their clients release them, new queries wait;
    // RESUME (SIGUSR2) hands servers out again.
    void pause();
    void resume();
    bool paused() const { return paused_; }
    void closeAllClients(std::string_view reason);
    void closeIdleServers(std::string_view reason);
    void closeAllServers(std::string_view reason);
    size_t clientCount() const { return clients_.size(); }
    size_t serverCount() const { return servers_.size(); }
    size_t activeServerCount() const;

    // The TCP socket options of the current settings, for every accepted or opened connection.
    net::Socket::TcpOptions tcpOptions() const;

    uint64_t nextId() { return counters_.nextConnectionId.fetch_add(1, std::memory_order_relaxed); }
    ProcessCounters& counters() { return counters_; }

private:
    void launchServer(pool::PoolShard& shard);

    uv_loop_t* loop_;
    pool::PoolRegistry& pools_;
    ProcessCounters& counters_;
    Snapshot snapshot_;
    bool acceptingLogins_ = true;
    bool paused_ = false;
    std::unordered_map<ClientConn*, std::unique_ptr<ClientConn>> clients_;
    std::unordered_map<ServerConn*, std::unique_ptr<ServerConn>> servers_;
    std::map<std::pair<std::string, std::string>, std::unique_ptr<pool::PoolShard>> shards_;
    std::unordered_map<uint64_t, ClientConn*> cancelKeys_;
    std::vector<std::unique_ptr<class CancelForwarder>> cancels_;
};

}  // namespace sluice::conn
