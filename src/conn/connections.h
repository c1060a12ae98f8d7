// Every connection one worker owns, and what they share on that worker: the config snapshot,
// the pool shards, the cancel keys, the timeout sweep. Its thread is the only one that touches
// any of it (DESIGN §3); the Worker in server/ drives it.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "auth/auth_file.h"
#include "auth/hba.h"
#include "auth/scram_secret_cache.h"
#include "config/config.h"
#include "conn/cancel_key.h"
#include "conn/client_conn.h"
#include "conn/console_gateway.h"
#include "conn/handed_client.h"
#include "conn/peer_canceler.h"
#include "conn/worker_mesh.h"
#include "conn/prepared_statements.h"
#include "conn/worker_report.h"
#include "net/socket.h"
#include "pool/pool_registry.h"
#include "pool/pool_shard.h"
#include "util/intrusive_list.h"
#include "util/pointer_table.h"
#include "util/result.h"

namespace sluice::conn {

class ServerConn;
struct HandedServer;

// What the worker's connections are configured by; replaced as a whole on reload.
struct Snapshot {
    std::shared_ptr<const config::Config> config;
    std::shared_ptr<const auth::AuthFile> authFile;
    std::shared_ptr<const auth::HbaRules> hba;  // auth_hba_file, when auth_type = hba
    std::shared_ptr<const auth::IdentMaps> identMaps;  // auth_ident_file, when set
    // The TLS in use, built from client_tls_* / server_tls_* (contexts null when the mode is
    // disable). Usually what the settings say; after a SET that leaves them inconsistent, the
    // last consistent ones (as PgBouncer), so each mode always goes with its context.
    struct Tls {
        std::shared_ptr<const net::TlsContext> context;
        std::string mode = "disable";
        std::string settings;  // all of its *_tls_* values: a change means new server connections
    };
    Tls clientTls;
    Tls serverTls;
};

// What a CancelRequest finds a logged-in client of this worker by.
inline uint64_t clientCancelKey(const ClientConn& client) { return cancelKeyOf(client.cancelPid(), client.cancelKey()); }

// tcp_keepalive, tcp_keepidle, tcp_keepintvl, tcp_keepcnt and tcp_user_timeout as socket options.
net::Socket::TcpOptions tcpOptionsFrom(const config::Settings& settings);

// Counters shared by all workers (limits that span the process).
struct ProcessCounters {
    std::atomic<int64_t> clients{0};
    std::atomic<uint64_t> nextConnectionId{1};
    // Servers that went to a client waiting on another worker: handed over still logged in, or
    // (when one could not go as it was) closed so that the other worker opened one.
    std::atomic<uint64_t> serverHandOffs{0};
    std::atomic<uint64_t> serverGiveAways{0};
    // Named prepared statements by content, one name each for every worker.
    StatementCatalog statements{[this] { return nextConnectionId.fetch_add(1, std::memory_order_relaxed); }};
    PeerCancelSlots peerCancels;
};

class Connections {
public:
    Connections(uv_loop_t* loop, pool::PoolRegistry& pools, ProcessCounters& counters, Snapshot snapshot);
    ~Connections();

    uv_loop_t* loop() const { return loop_; }
    const config::Config& config() const { return *snapshot_.config; }
    const config::Settings& settings() const { return snapshot_.config->settings; }
    // max_user_client_connections of `user`: its [users] entry's, else the global setting.
    int64_t userClientLimit(const std::string& user) const;
    const auth::AuthFile& authFile() const { return *snapshot_.authFile; }
    const std::shared_ptr<const net::TlsContext>& clientTls() const { return snapshot_.clientTls.context; }
    const std::shared_ptr<const net::TlsContext>& serverTls() const { return snapshot_.serverTls.context; }
    const std::string& clientTlsMode() const { return snapshot_.clientTls.mode; }
    const std::string& serverTlsMode() const { return snapshot_.serverTls.mode; }
    const auth::HbaRules* hba() const { return snapshot_.hba.get(); }
    const auth::IdentMaps* identMaps() const { return snapshot_.identMaps.get(); }
    void setSnapshot(Snapshot snapshot);
    // The SCRAM secrets logins check against, made once per stored secret (no PBKDF2 per login).
    auth::ScramSecretCache& scramSecrets() { return scramSecrets_; }
    // Prepared statements by content, shared by this worker's clients and servers (DESIGN §10).
    StatementCatalog& statementCatalog() { return counters_.statements; }

    // A new client on a listening socket.
    void acceptClient(uv_stream_t* listener, bool isUnix);

    // The shard serving (database, user) on this worker; made on first use. `entry` is the
    // database entry the client resolved to (its own or the "*" fallback).
    pool::PoolShard& shardFor(const config::DatabaseEntry& entry, const std::string& database,
                              const std::string& clientUser);

    // A login to `database` through the "*" entry: true the first time in the process.
    bool registerAutoDatabase(const std::string& database) { return pools_.registerAutoDatabase(database); }

    // Cancel keys: the BackendKeyData each client was given, naming the worker that owns the
    // client and, with peering, this process (conn/cancel_key.h), so that a CancelRequest the
    // kernel hands to another worker (SO_REUSEPORT), or a load balancer to another process, is
    // passed on to the owner.
    static constexpr int kMaxWorkers = 256;
    CancelKey newCancelKey(const uint8_t (&random)[8]) const {
        return makeCancelKey(random, workerIndex_, settings().peer_id);
    }
    // A CancelRequest from `requester` (a connection of this worker that sent one): cancels the
    // client's query (or its wait for a server) on whichever worker owns it; an unknown or
    // forged key costs a lookup. The requester stays open until the cancel is done and is then
    // told (ClientConn::cancelAnswered), as PgBouncer keeps it: libpq's PQcancel returns when
    // the backend has been signalled, never before.
    void cancel(int32_t pid, int32_t key, ClientConn& requester);
    // Closing: a requester that leaves before its answer.
    void forgetCancelRequester(ClientConn& requester) { cancelRequesters_.erase(requester.id()); }
    // False (nothing changed) when another client of this worker has the same key.
    bool registerCancelKey(ClientConn& client);
    void unregisterCancelKey(ClientConn& client);
    ClientConn* findByCancelKey(int32_t pid, int32_t key);

    // Called by a connection once its socket is closed: frees it.
    void destroy(ClientConn& client);
    void destroy(ServerConn& server);

    // The periodic sweep, every kSweepMillis (fine enough for second-granular settings): login,
    // wait and idle timeouts. It visits only the watched clients: a quiet one
    // (ClientConn::quiet) rests aside until it sends something (watch) or a reload may have
    // given it a timeout, so thousands of idle clients cost nothing between sweeps.
    static constexpr uint64_t kSweepMillis = 200;
    void checkTimeouts();
    void watch(ClientConn& client) {
        if (quietClients_.contains(client)) watchedClients_.pushBack(client);
    }

    // A host's role or health changed (the prober says so): servers on hosts that no longer
    // serve their pool go, waiting clients get servers on the hosts that do.
    void hostsChanged();
    discovery::HostRegistry& hosts() { return pools_.hosts(); }

    // Shutdown and PAUSE support.
    // SHUTDOWN WAIT_FOR_CLIENTS / WAIT_FOR_SERVERS (SIGTERM / SIGINT): logins to databases are
    // refused (the console's still work); idle servers close. Waiting for servers, a client that
    // needs one — queued, or starting its next transaction — is closed ("server shutting down").
    void beginShutdown(bool waitForServers);
    bool acceptingLogins() const { return acceptingLogins_; }
    bool refusingServers() const { return refusingServers_; }
    // PAUSE (SIGUSR1): servers are closed as their clients release them, new queries wait;
    // RESUME (SIGUSR2) hands servers out again. With a database name, only that database.
    void pause(const std::string& database = "");
    void resume(const std::string& database = "");
    bool paused() const { return paused_; }
    // DISABLE/ENABLE db: new clients of a disabled database are refused.
    void setDisabled(const std::string& database, bool disabled);
    bool isDisabled(const std::string& database) const { return disabled_.count(database) != 0; }
    // RECONNECT [db]: servers are replaced once their clients release them ("" = every database).
    void reconnect(const std::string& database);
    // KILL [db]: drops the database's clients and servers at once and pauses it.
    void kill(const std::string& database);
    // KILL_CLIENT id: false when no client of this worker has that id.
    bool killClient(uint64_t id);
    // SUSPEND: stop reading every socket until RESUME; output still drains.
    void suspend();
    bool suspended() const { return suspended_; }

    // The online restart (-R, DESIGN §3). In the old process: from now on each movable client
    // leaves through `sink` (called on this worker's thread) as soon as it is between
    // transactions with nothing in flight; a client that cannot move stays until it leaves.
    using HandOverSink = std::function<void(LeavingClient)>;
    void startHandOver(HandOverSink sink);
    // The new process went away: the clients not handed over yet stay here.
    void stopHandOver();
    // A client came to rest between transactions (a release point, a login, a lost server, a
    // session's ReadyForQuery).
    void handOverAtRest(ClientConn& client) {
        if (handOverSink_) queueHandOver(client);
    }
    // In the new process: a client the old one handed over, with its session's server when it
    // came with one (serverStream.fd >= 0).
    void adoptClient(LeavingClient client);
    // That server, linked to `client` in `shard`; null when it cannot be taken in.
    ServerConn* adoptLinkedServer(pool::PoolShard& shard, HandedServerState& state, net::DetachedStream stream,
                                  ClientConn& client);
    // The channel the new process asked for the hand-over on (TAKEOVER, sent by the pooler's own
    // unix user as "pgbouncer" over the unix socket): its socket, out of this loop; else why not.
    Result<net::DetachedStream> detachTakeoverChannel(uint64_t consoleClientId);

    // The admin console (DESIGN §4, admin/): its clients' queries go to the control plane and the
    // answers come back here, on this worker's thread.
    void setConsoleGateway(ConsoleGateway* gateway, int worker) {
        gateway_ = gateway;
        workerIndex_ = worker;
    }
    // Before the workers start: how this worker reaches the others.
    void setMesh(WorkerMesh* mesh) { mesh_ = mesh; }
    void submitConsoleQuery(ClientConn& client, bool adminUser, std::string query);
    // A console client counts against max_db_client_connections (the console's own database) and
    // its user's max_user_client_connections, as in PgBouncer; an `exempt` one (admin_users) is
    // counted but never refused. False, with the refusing limit in `which`, when one is full.
    bool registerConsoleClient(ClientConn& client, bool exempt, std::string_view& which);
    void unregisterConsoleClient(ClientConn& client);
    // A client of `shard`'s pool logged in as `user` counts against the database's
    // max_db_client_connections and its own user's max_user_client_connections, as in PgBouncer
    // (not the pool's user: a forced user's pool has clients of many users). False, with the
    // refusing limit in `which`, when one is full; releaseClient undoes an admission.
    bool admitClient(pool::PoolShard& shard, const std::string& user, std::string_view& which);
    void releaseClient(pool::PoolShard& shard, const std::string& user);
    void deliverConsoleReply(uint64_t clientId, const std::string& bytes, bool closeAfter);
    // Everything SHOW needs of this worker, copied out.
    WorkerReport report() const;
    void closeAllClients(std::string_view reason);
    // Idle servers of every database, or of one.
    void closeIdleServers(std::string_view reason, const std::string& database = "");
    void closeAllServers(std::string_view reason);
    size_t clientCount() const { return watchedClients_.size() + quietClients_.size(); }
    size_t serverCount() const { return servers_.size(); }
    size_t activeServerCount() const;

    // The TCP socket options of the current settings, for every accepted or opened connection.
    net::Socket::TcpOptions tcpOptions() const;

    uint64_t nextId() { return counters_.nextConnectionId.fetch_add(1, std::memory_order_relaxed); }
    ProcessCounters& counters() { return counters_; }

private:
    void launchServer(pool::PoolShard& shard);
    // PoolShard::RoomMaker: an idle server of another pool on this worker sharing the full limit.
public:
    // A server for one replication client alone (ServerConn::dedicate); null when none could be
    // started (the client has been told).
    ServerConn* launchDedicatedServer(pool::PoolShard& shard, ClientConn& client, const std::string& replication,
                                      std::vector<std::pair<std::string, std::string>> startup);

private:
    // Room between workers (PoolShard::setRoomSharing).
    void offerToOtherWorkers(pool::PoolShard& asking);
    bool giveRoom(pool::PoolShard& giving, ServerConn& server, TimePoint waitingSince);
    // A server another worker handed over for a client of (database, user) waiting here.
    void adoptServer(const std::string& database, const std::string& user, HandedServer& handed,
                     pool::Pool& pool);
    // max_db_connections / max_user_connections full: an idle server of another pool sharing the
    // database (or user) closes, here or on another worker, so that `asking` does not starve.
    bool closeIdleServerForRoom(pool::PoolShard& asking, bool databaseLimit);
    bool closeIdleServerSharing(const std::string& database, const std::string& user, bool databaseLimit);
    void askNextWorkerForRoom(std::string database, std::string user, bool databaseLimit, int workersLeft);
    void openForcedUserPools();
    void queueHandOver(ClientConn& client);
    // Hands over the queued clients whose output has gone; the rest wait for the next try.
    void flushHandOvers();

    uv_loop_t* loop_;
    pool::PoolRegistry& pools_;
    ProcessCounters& counters_;
    Snapshot snapshot_;
    auth::ScramSecretCache scramSecrets_;
    bool acceptingLogins_ = true;
    bool refusingServers_ = false;
    bool paused_ = false;
    bool suspended_ = false;
    std::set<std::string> pausedDatabases_;
    std::set<std::string> disabled_;
    ConsoleGateway* gateway_ = nullptr;
    WorkerMesh* mesh_ = nullptr;
    int workerIndex_ = 0;
    struct ConsoleClient {
        ClientConn* client;
        pool::ClientLimits limits;  // released when it leaves
    };
    std::unordered_map<uint64_t, ConsoleClient> consoleClients_;
    // Every client is on one of these two lists, from adoptClientObject until destroy, which
    // frees it: no map of clients besides them (a map node and its bucket were 40 bytes of
    // every idle client's 900).
    IntrusiveList<ClientConn, SweepHook> watchedClients_;
    IntrusiveList<ClientConn, SweepHook> quietClients_;
    ClientConn& adoptClientObject(std::unique_ptr<ClientConn> client);
    // Every client, as a list taken now: the walks that close clients or move them between the
    // lists go over this.
    std::vector<ClientConn*> allClients();
    template <class Fn>
    void forEachClient(Fn&& fn) const {  // fn(const ClientConn&); changes nothing
        watchedClients_.forEach(fn);
        quietClients_.forEach(fn);
    }
    std::unordered_map<ServerConn*, std::unique_ptr<ServerConn>> servers_;
    std::map<std::pair<std::string, std::string>, std::unique_ptr<pool::PoolShard>> shards_;
    PointerTable<ClientConn, clientCancelKey> cancelKeys_;  // every logged-in client
    std::vector<std::unique_ptr<class CancelForwarder>> cancels_;
    PeerCanceler peerCanceler_;
    TimePoint roomAskedElsewhereAt_{};  // closeIdleServerForRoom's last round of the other workers
    std::unordered_map<uint64_t, ClientConn*> cancelRequesters_;  // by id, waiting for their answer
    HandOverSink handOverSink_;                       // set in the old process of an online restart
    std::unordered_set<ClientConn*> handOversQueued_;  // at rest, not reading, their output going out
    bool handOverFlushPosted_ = false;

    // Cancels a client of this worker; `answer` runs (on this worker) when that is done.
    using CancelAnswer = std::function<void(CancelOutcome)>;
    void cancelOwnClient(int32_t pid, int32_t key, CancelAnswer answer);
    void forwardCancel(ServerConn& server, CancelAnswer answer);
    // The answer reaches a requester of this worker.
    void answerCancelRequester(uint64_t requester, CancelOutcome outcome);
};

}  // namespace sluice::conn
