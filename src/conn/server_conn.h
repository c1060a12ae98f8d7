// One connection from the pooler to PostgreSQL (DESIGN §2): CONNECTING → LOGIN → IDLE ⇄ ACTIVE,
// with internal queries (connect_query, server_check_query, parameter sync, server_reset_query)
// run between clients, and CLOSED on errors, timeouts or lifetime.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "auth/scram.h"
#include "conn/cancel_forwarder.h"
#include "conn/handed_client.h"
#include "conn/prepared_statements.h"
#include "discovery/host_state.h"
#include "net/host_lookup.h"
#include "net/socket.h"
#include "pool/pool_shard.h"
#include "pool/server_params.h"
#include "util/clock.h"
#include "util/result.h"

namespace sluice::proto {
struct ErrorFields;
}

namespace sluice::conn {

class ClientConn;
class Connections;

// An idle server on its way to another worker (DESIGN §3): the connection and what the pooler
// knows of it, made by ServerConn::handOff() on the giving worker's thread and taken by the
// adopting constructor on the other's. Plain values only: nothing in it belongs to a worker.
struct HandedServer {
    net::DetachedStream stream;
    uint64_t id = 0;
    std::shared_ptr<discovery::HostState> host;
    std::string address;
    CancelTarget cancelTarget;
    pool::ServerParams params;
    int32_t backendPid = 0;
    int32_t backendKey = 0;
    TimePoint connectedAt;
    bool servedClient = false;
    ServerStatements statements;
};

class ServerConn final : public net::SocketOwner, public pool::PooledServer {
public:
    // TlsRequest: SSLRequest sent, waiting for 'S' / 'N' and then the TLS handshake.
    // BeingCanceled: released by its client while a cancel sent for that client is still on its
    // way; no other client gets it until the cancel is done (PgBouncer's being_canceled).
    enum class State { Connecting, TlsRequest, Login, Idle, Active, Internal, BeingCanceled, Closing };
    using QueryDone = std::function<void(const std::optional<Error>& error)>;

    ServerConn(Connections& connections, pool::PoolShard& shard, uint64_t id, size_t hostIndex);
    // A server another worker handed over (handOff()), idle and logged in, in `shard`, whose
    // target lists its host at `hostIndex`. adopt() then puts its stream on this worker's loop
    // and gives it to the shard (whose pool holds its slot already).
    ServerConn(Connections& connections, pool::PoolShard& shard, size_t hostIndex, HandedServer& handed);
    void adopt(net::DetachedStream stream);
    ~ServerConn() override;

    // A replication connection (PgBouncer 1.23+): this server belongs to `client` alone, from
    // login to close, never to the pool; `startup` (the client's own startup parameters,
    // replication and options among them) goes in its startup packet. Before connect().
    void dedicate(ClientConn& client, std::string replication,
                  std::vector<std::pair<std::string, std::string>> startup);
    bool dedicated() const { return !replication_.empty(); }
    const std::string& replication() const { return replication_; }  // "" when pooled
    // Its client left before the login ended.
    void forgetDedicatedClient();
    void connect();
    void close(std::string_view reason);
    // Closes, its pool slot not given back but handed on: `then` runs once the connection is
    // closed (so the next server's backend does not overlap this one longer than it must).
    void closeHandingOnSlot(std::string_view reason, std::function<void()> then);
    // Leaves this worker with its slot, still connected, for another worker to adopt: an idle
    // server of the shard's current configuration whose socket is quiet. Null when it cannot
    // go; then nothing changed. Otherwise this object is gone once its handle has closed.
    std::unique_ptr<HandedServer> handOff();
    // The online restart (-R): this session's server goes to the new process with its client,
    // between two transactions, its socket quiet and in clear (conn/client_handover.cpp). Its
    // slot here is freed. nullopt when it cannot go now; then nothing changed.
    std::optional<std::pair<net::DetachedStream, HandedServerState>> leaveWithClient();
    // In the new process: a server built from HandedServer that arrived linked to `client`.
    bool adoptLinked(net::DetachedStream stream, ClientConn& client);
    // The host did not answer, refused, or said it cannot take connections now (PgBouncer's
    // "connect failed" / "connect timeout"): the host is marked down for server_login_retry,
    // waiting clients stay queued for another host or a later try.
    // `closeReason`, when given, is the "closing because" text instead of `reason`.
    void connectFailed(std::string_view reason, std::string_view closeReason = {});
    // The server is gone (a FATAL error, a lost connection, its host down): closed, the host
    // suspect (the prober looks at once), a linked client told of `error` (ClientConn::serverLost).
    void lost(const Error& error);
    // The host this server is connected to (DESIGN §9).
    discovery::HostState& host() const { return *host_; }

    // The client this server now works for; the pair forwards each other's bytes.
    void link(ClientConn& client);
    void unlink();
    ClientConn* client() const { return client_; }
    // Runs the check query if it idled too long, then sets the parameters the client expects.
    void prepareFor(ClientConn& client, QueryDone done);
    // Runs one simple query for the pooler itself; its results go nowhere but `done`. Outside a
    // client's transaction it must leave the server idle; inside one it must not end it.
    void runQuery(std::string sql, QueryDone done, char expectedStatus = 'I');
    // The same, keeping the rows (auth_query).
    using Rows = std::vector<std::vector<std::optional<std::string>>>;
    void runQueryForRows(std::string sql, std::function<void(const std::optional<Error>&, Rows)> done);
    // The client is done with this server: reset it and give it back, or close it if unclean.
    void releaseFromClient(bool runReset);

    // Bytes from the linked client.
    void sendFromClient(const uint8_t* data, size_t size);
    void resumeReading();

    State state() const { return state_; }
    // Prepared statements in transaction pooling: null when max_prepared_statements is 0 or in
    // session pooling (the statements then live on the server as they would directly).
    PreparedRelay* preparedRelay() { return relay_.get(); }
    // Part of a message was passed to the client and the rest is still to come.
    bool midMessage() const { return streamRemaining_ > 0; }
    const pool::ServerParams& params() const { return params_; }
    void rememberParameter(std::string_view name, std::string_view value) { params_.set(name, value); }
    // Whether the server still has exactly the parameters last made to match `wanted` (nothing
    // reported since), so handing it to a client that wants the same needs no comparison.
    bool inSyncWith(const pool::ServerParams& wanted) const {
        return syncedParamsVersion_ == params_.version() && syncedFor_ == wanted;
    }
    void markSyncedWith(const pool::ServerParams& wanted) {
        if (!(syncedFor_ == wanted)) syncedFor_ = wanted;
        syncedParamsVersion_ = params_.version();
    }
    pool::PoolShard& shard() { return shard_; }
    bool readyForQuery() const { return readyForQuery_ && txStatus_ == 'I'; }
    // Every request sent so far has its ReadyForQuery (whatever the transaction status).
    bool answeredAll() const { return readyForQuery_; }
    char transactionStatus() const { return txStatus_; }
    void markBusy() { readyForQuery_ = false; }
    int32_t backendPid() const { return backendPid_; }
    int32_t backendKey() const { return backendKey_; }
    // Where a CancelRequest for this server goes: where this connection went.
    const CancelTarget& cancelTarget() const { return cancelTarget_; }
    // A cancel for this server's backend is on its way / done (delivered, failed or dropped).
    void cancelStarted() { ++cancelsInFlight_; }
    void cancelFinished();
    int cancelsInFlight() const { return cancelsInFlight_; }
    const std::string& address() const { return address_; }
    TimePoint connectedAt() const { return connectedAt_; }
    net::Socket& socket() { return socket_; }
    const std::string& name() const { return name_; }  // "S-7"
    std::string describe() const;                       // "S-7: db/user@host:port"
    // SHOW SERVERS / SOCKETS: this server as a row.
    void describeRow(struct ConnectionRow& row) const;
    uint64_t id() const { return id_; }

    // net::SocketOwner
    void onSocketRead(net::IoBuffer& input) override;
    void onSocketEnd(std::string_view reason) override;
    void onSocketConnected(int status) override;
    void onSocketDrained() override;
    void onSocketClosed() override;
    void onSocketTlsReady() override;

private:
    void startConnect(const sockaddr* address);
    void lookupFailed(int status);  // the host name did not resolve
    void sendStartup();
    void handleTlsAnswer(net::IoBuffer& input);
    void handleLoginMessage(char type, const uint8_t* body, size_t size);
    void handleAuthRequest(const uint8_t* body, size_t size);
    void loginFailed(const Error& error) { loginFailed(error, error); }
    // `error` for the log, `told` for the clients that waited for this login.
    void loginFailed(const Error& error, const Error& told);
    // The server sent an ErrorResponse to the login: its text reaches the log and the clients.
    void loginRefused(const proto::ErrorFields& fields);
    void loginDone();
    void runConnectQuery();
    // Multi-host: whether the host's role (learned at login) fits the pool; if not, the
    // connection is closed and another host tried.
    void checkRole();
    void roleKnown(discovery::Role role, bool readOnly);
    // A ParameterStatus from the server; in_hot_standby tells of a promotion.
    void noteParameter(std::string_view name, std::string_view value);
    void handleInternalMessage(char type, const uint8_t* body, size_t size);
    void becomeReady();
    void forwardToClient(net::IoBuffer& input);
    bool readsWhole(char type) const;
    bool processWholeMessages(net::IoBuffer& input);
    // After a RESET, sets the client's startup values again, then passes on the ReadyForQuery.
    void restoreClientParameters(char readyStatus);

    Connections& connections_;
    pool::PoolShard& shard_;
    net::Socket socket_;
    const uint64_t id_;
    std::shared_ptr<discovery::HostState> host_;
    net::HostLookup lookup_;  // a host given by name
    State state_ = State::Connecting;
    std::string name_;
    std::string address_;  // "host:port" or the unix socket path, for logs
    CancelTarget cancelTarget_;
    int cancelsInFlight_ = 0;
    bool resetAfterCancel_ = false;  // BeingCanceled: whether its release runs server_reset_query
    std::function<void()> afterClose_;  // closeHandingOnSlot
    // dedicate(): "physical" or "logical" ("" for a pooled server); the client until it is linked.
    std::string replication_;
    ClientConn* dedicatedTo_ = nullptr;
    std::vector<std::pair<std::string, std::string>> clientStartup_;
    // A login that did not succeed: the waiting clients (or the one it was dedicated to) learn why.
    void reportLoginFailure(const Error& told);
    ClientConn* client_ = nullptr;
    pool::ServerParams params_;
    pool::ServerParams syncedFor_;
    uint64_t syncedParamsVersion_ = UINT64_MAX;
    int32_t backendPid_ = 0;
    int32_t backendKey_ = 0;
    char txStatus_ = 'I';
    bool readyForQuery_ = false;
    bool servedClient_ = false;  // a client has sent it something since its login (server_check_query)
    uint32_t streamRemaining_ = 0;  // bytes of a large message still passing through to the client
    TimePoint connectedAt_;
    std::unique_ptr<class ServerAuthenticator> authenticator_;  // during login only
    std::optional<Error> queryError_;
    std::optional<Error> lostError_;  // why a linked server went away, for its client
    bool clientSawFatal_ = false;     // a FATAL passed through: the client's session ends with ours
    QueryDone queryDone_;
    char queryExpectedStatus_ = 'I';
    bool collectRows_ = false;
    Rows rows_;
    std::vector<std::string> restore_;  // parameters a RESET took from the linked client
    ServerStatements statements_;        // what the pooler prepared here (prepared_statements.h)
    std::unique_ptr<PreparedRelay> relay_;
};

}  // namespace sluice::conn
