// One client of the pooler (DESIGN §2): LOGIN (startup packet, authentication) → IDLE →
// WAITING for a server → ACTIVE (linked to a ServerConn) → back to IDLE at the pool mode's
// release point, or CLOSED.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "conn/cancel_forwarder.h"
#include "conn/handed_client.h"
#include "conn/prepared_statements.h"
#include "conn/tracked_params.h"
#include "net/peer_address.h"
#include "net/socket.h"
#include "auth/secret.h"
#include "pool/pool_mode.h"
#include "pool/pool_shard.h"
#include "pool/server_params.h"
#include "proto/startup.h"
#include "util/clock.h"
#include "util/result.h"

namespace sluice::auth {
class ScramServer;
}

namespace sluice::conn {

class Connections;
class ServerConn;

// A client on its way out of this process (the online restart): its socket, its session's
// server's when that goes with it (fd -1 otherwise), and what it is.
struct LeavingClient {
    net::DetachedStream stream;
    net::DetachedStream serverStream;
    HandedClient state;
};

// On Connections' watched or quiet list.
struct SweepHook : ListHook {};

class ClientConn final : public net::SocketOwner, public pool::PoolWaiter, public SweepHook {
public:
    // Console and ConsoleBusy: a client of the admin console, reading a query / awaiting its answer.
    // Canceling: a connection that sent a CancelRequest, open until the cancel is done.
    enum class State : uint8_t { Startup, Auth, WaitWelcome, Idle, Waiting, Linking, Active, Console, ConsoleBusy, Canceling, Closing };

    ClientConn(Connections& connections, uint64_t id);
    ~ClientConn() override;

    bool accept(uv_stream_t* listener);  // into a socket already open()ed for the listener's kind

    // Ends the session: `reason` goes to the log (and to the client when sent as an error).
    void close(std::string_view reason);
    void closeWithError(std::string_view sqlstate, std::string_view message, std::string_view detail = {});

    // From the linked server.
    void sendFromServer(const uint8_t* data, size_t size);
    // The server reported a parameter: true when it went back to the server's own default while
    // this client connected with another value (a RESET), so the pooler should restore it.
    bool serverParameterChanged(std::string_view name, std::string_view value);
    // The SETs that restore these parameters to the client's startup values; stops reading the
    // client until the server is Active again (resumeReading).
    std::string restoreStartupParameters(const std::vector<std::string>& names);
    // Whether the ReadyForQuery the server is sending answers the client's last request.
    bool awaitsOnlyOneReady() const;
    // The server finished a request (ReadyForQuery): in transaction and statement mode this
    // may be the release point.
    void serverReadyForQuery(char status);
    // The linked server went away (crash, shutdown, failover). In transaction and statement
    // pooling the client stays: what was in flight fails with an ERROR and its next transaction
    // gets another server; a session, or a request cut mid-message, cannot go on (FATAL).
    // `midMessage`: the server's last message to the client was cut short.
    void serverLost(const Error& error, bool midMessage);
    // Sends the answers the pooler owes this client now (prepared statements) and acts on the
    // ReadyForQuery among them like on the server's; may release the server.
    void deliverPoolerAnswers(PreparedRelay& relay);
    void resumeReading();
    // RESUME after SUSPEND: read again wherever the client was reading.
    void resumeAfterSuspend();

    // The online restart (-R, DESIGN §3; conn/client_handover.cpp). Whether this client may go
    // to the new process once it is between transactions: a plain socket, not the console, not a
    // replication connection; a session's server goes with it unless that is TLS.
    bool movable() const;
    // Between transactions (a session's server idle outside a transaction block): the moment to go.
    bool atRest() const;
    // At rest, with nothing in flight either way: the sockets and what the client is leave for
    // the new process, and this connection closes without a word to the client (its session's
    // server too). nullopt when not now (nothing changed then).
    std::optional<LeavingClient> handOver();
    // In the new process, instead of accept(): the client another process handed over, logged in
    // and at rest. False when it cannot be served here.
    bool adopt(LeavingClient leaving);
    // A console client that asked for the hand-over (TAKEOVER): its socket becomes the channel
    // the old process sends everything over, outside any loop.
    Result<net::DetachedStream> detachTakeoverChannel();

    // The admin console's answer to the last query; closes the client after it when asked to.
    void consoleReply(const std::string& bytes, bool closeAfter);
    bool isConsole() const { return console_; }
    // SHOW CLIENTS / SOCKETS: this client as a row.
    void describeRow(struct ConnectionRow& row) const;
    uint64_t id() const { return id_; }
    const std::string& database() const { return database_; }
    const std::string& user() const { return user_; }
    pool::PoolShard* shard() const { return shard_; }
    // Its named prepared statements (transaction pooling), made on first use.
    ClientStatements& preparedStatements() {
        if (!statements_) statements_ = std::make_unique<ClientStatements>();
        return *statements_;
    }

    // Called by the worker's sweep: closes the client if one of its timeouts has passed.
    void checkTimeouts(uint64_t nowUs);
    // Nothing for the sweep to do until the client sends something: idle between transactions,
    // no client_idle_timeout, no buffer held.
    bool quiet() const;
    // A CancelRequest for this client arrived while it waits for a server: drop its request.
    void cancelWhileWaiting();
    // Its dedicated server (a replication connection) has logged in: the client's welcome is
    // that server's, and the two stay linked until one of them leaves.
    void dedicatedServerReady(ServerConn& server);
    // The cancel this connection requested is done (Connections::cancel): it closes.
    void cancelAnswered(CancelOutcome outcome);

    State state() const { return state_; }
    ServerConn* server() const { return server_; }
    int32_t cancelPid() const { return cancelPid_; }
    int32_t cancelKey() const { return cancelKey_; }
    TimePoint connectedAt() const { return connectedAt_; }
    std::string describe() const override;  // "C-12: db/user@addr:port"
    net::Socket& socket() { return socket_; }

    // pool::PoolWaiter
    void onServerAvailable(pool::PooledServer& server) override;
    void onServerUnavailable(const Error& error) override;

    // net::SocketOwner
    void onSocketRead(net::IoBuffer& input) override;
    void onSocketEnd(std::string_view reason) override;
    void onSocketDrained() override;
    void onSocketClosed() override;
    void onSocketTlsReady() override;

private:
    // What closing undoes, short of the socket: waits, links, keys, counts.
    void leave(State previous);
    void readInput(net::IoBuffer& input);
    bool handleStartup(net::IoBuffer& input);
    void beginTls();
    // Remembers where the client comes from (peer_), once its socket is open.
    void namePeer();
    void startLogin(proto::StartupPacket& packet);
    void startAuthentication();
    // auth_user + auth_query: the secret of a user missing from auth_file, fetched through a
    // server connection of the auth pool; authentication goes on with it.
    bool wantsSecretLookup() const;
    void lookUpSecret();
    void runSecretLookup(ServerConn& server);
    bool handleAuthMessage(net::IoBuffer& input);
    void verifyPassword(std::string_view password);
    void handleSaslMessage(const uint8_t* body, size_t size);
    // Refused as PgBouncer refuses; `detail` adds Sluice's reason where it tells nothing more
    // about who exists.
    void authenticationFailed(std::string_view detail = {});
    // A configuration that cannot serve this login ("bouncer config error"); the reason is logged.
    void configError(std::string_view reason);
    // max_db_client_connections or max_user_client_connections (`limit`) is full.
    void refuseOverClientLimit(std::string_view limit);
    // The database's entry in the configuration, or the fallback database's ("*"); null when neither.
    // Looked up where it is used, never kept: a reload replaces the configuration it points into.
    const config::DatabaseEntry* findDatabaseEntry(const std::string& database) const;
    // The client's own database's entry; null for the console or an unknown database (refused
    // once the client has authenticated).
    const config::DatabaseEntry* databaseEntry() const { return console_ ? nullptr : findDatabaseEntry(database_); }
    // The client has authenticated: closes it (true) when its database is unknown (`entry` null)
    // or disabled.
    bool refusedDatabase(const config::DatabaseEntry* entry);
    void authenticated();
    // AuthenticationOk, the server's parameters, BackendKeyData and ReadyForQuery.
    void sendWelcome(const pool::ServerParams& serverParams);
    void handleIdle(net::IoBuffer& input);
    // Prepared statements are the pooler's (max_prepared_statements, transaction pooling).
    bool answersPreparesItself() const;
    void enterConsole();
    void handleConsole(net::IoBuffer& input);
    void requestServer();
    void serverLinked();
    void releaseServerIfDone();
    void countRequest(char type);
    void forwardToServer(net::IoBuffer& input);
    // The SETs that make a server's tracked parameters what this client expects.
    ParameterChanges parameterChanges(const pool::ServerParams& serverParams) const;
    void parametersApplied(ServerConn& server, const ParameterChanges& changes);
    // Sends the welcome from the pool's cached server parameters, with the client's own values
    // where they differ, when the pool knows every such value as servers report it; false (nothing
    // sent) when it does not.
    bool sendWelcomeFromCache();
    // Ends a welcome whose AuthenticationOk and parameters are in `out`, and sends it.
    void finishWelcome(std::string& out);
    void closeServerAndClient(std::string_view sqlstate, std::string_view reason);
    // query_wait_notify: PgBouncer's NOTICE to a client queued that long, once per wait.
    void noticeLongWait();
    // After serverLost inside a transaction block: the client must end it before anything else
    // runs, as PostgreSQL demands in a failed transaction. Returns false to stop reading.
    bool answerLostTransaction(net::IoBuffer& input);

    // A password, SASL or console message larger than this is not what it claims to be.
    static constexpr uint32_t kMaxAuthMessage = 64u << 10;
    static constexpr double kKeepBufferSeconds = 1.0;

    Connections& connections_;
    net::Socket socket_;
    const uint64_t id_;
    std::string user_;
    std::string database_;
    // What only the login needs; freed once the client is in, so idle clients stay small.
    struct Login {
        std::string secret;  // the user's auth_file secret, if any
        bool hasSecret = false;
        bool userKnown = false;  // in auth_file, or found by auth_query (trust needs no more)
        std::string md5Salt;
        std::unique_ptr<auth::ScramServer> scram;
        bool saslStarted = false;
        std::optional<auth::ScramSecret> storedScram;     // the auth_file's SCRAM secret, parsed
        std::optional<pool::ScramPassthrough> passthrough;  // what a successful SCRAM login proved
        std::vector<std::pair<std::string, std::string>> replicationStartup;  // for its own server
        pool::PoolShard* lookupShard = nullptr;  // the auth pool while an auth_query is pending
        // A replication client's own server while it logs in: the login ends with that server's.
        ServerConn* dedicatedServer = nullptr;
        std::shared_ptr<bool> alive;             // made for a lookup: its answer may outlive us
    };
    // The auth pool while an auth_query for this client is pending, else null.
    pool::PoolShard* lookupShard() const { return login_ ? login_->lookupShard : nullptr; }
    std::unique_ptr<Login> login_;  // made by the constructor, where ScramServer is complete
    pool::PoolShard* shard_ = nullptr;
    ServerConn* server_ = nullptr;
    std::unique_ptr<ClientStatements> statements_;  // null until it prepares one: idle clients stay small
    pool::ServerParams wanted_;   // parameters the client chose (startup packet, SET)
    // Those of the startup packet, as the server spells them (what RESET restores): null while
    // they are still what wanted_ holds, i.e. until the client SETs one (most never do, and an
    // idle client need not hold its parameters twice).
    std::unique_ptr<pool::ServerParams> startup_;
    const pool::ServerParams& startupParams() const { return startup_ ? *startup_ : wanted_; }
    // A replication connection (its startup parameters wait in Login for its own server).
    enum class Replication : uint8_t { None, Physical, Logical };
    // PgBouncer's words for it in the log and to the server: "no", "yes", "database".
    const char* replicationWord() const {
        return replication_ == Replication::None ? "no" : replication_ == Replication::Physical ? "yes" : "database";
    }
    // The small fields together, the flags as bits: an idle client is mostly this object, and
    // a few bytes take it to the next malloc size (sizeof is checked by a unit test).
    State state_ = State::Startup;
    Replication replication_ = Replication::None;
    net::PeerAddress peer_;
    bool counted_ : 1 = false;
    bool admitted_ : 1 = false;  // counted against the pool's per-database/per-user client limits
    bool console_ : 1 = false;    // logged in to the admin console
    bool adminUser_ : 1 = false;  // admin_users (or the pooler's own unix user): may run every command
    bool sslAnswered_ : 1 = false;
    bool directTls_ : 1 = false;
    bool gssAnswered_ : 1 = false;
    bool cancelRegistered_ : 1 = false;
    bool linkingForWelcome_ : 1 = false;  // Linking a server whose parameters the welcome waits for
    bool transactionLost_ : 1 = false;    // its server died inside a transaction block (serverLost)
    bool waitNoticed_ : 1 = false;  // the current wait's query_wait_notify NOTICE went out (cleared as a wait begins)
    // What the linked server still owes: one ReadyForQuery per Query, FunctionCall and Sync sent,
    // and whether extended-protocol messages were sent since the last Sync.
    bool extendedOpen_ : 1 = false;
    bool discarding_ : 1 = false;  // messageRemaining_ is dropped, not sent on
    uint32_t readyPending_ = 0;
    int32_t cancelPid_ = 0;
    int32_t cancelKey_ = 0;
    // The rest of the client's current message, one at a time: passing through to the server in
    // pieces, or, when discarding_, dropped (refused as too large).
    uint32_t messageRemaining_ = 0;
    bool streaming() const { return messageRemaining_ > 0 && !discarding_; }
    TimePoint connectedAt_;
    // Monotonic microseconds, for the timeouts and the statistics; read once per request, never
    // per message (the last activity uses the loop's cached time).
    uint64_t lastActivityUs_ = 0;  // last bytes from the client
    uint64_t requestUs_ = 0;       // the oldest request the server has not answered yet
    uint64_t readyUs_ = 0;         // the server's last ReadyForQuery
    uint64_t transactionUs_ = 0;   // start of the current transaction; 0 when none
};

}  // namespace sluice::conn
