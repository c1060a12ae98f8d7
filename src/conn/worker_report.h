// One worker's connections and pools, copied out on the worker's thread for the admin console
// (SHOW CLIENTS, SERVERS, POOLS, STATS …), which merges the reports of every worker.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pool/pool_stats.h"

namespace sluice::conn {

// A row of SHOW CLIENTS / SHOW SERVERS / SHOW SOCKETS.
struct ConnectionRow {
    bool isServer = false;
    uint64_t id = 0;
    std::string user;
    std::string database;
    std::string state;      // PgBouncer's words: active, idle, waiting, used, tested, new, login
    std::string listState;  // SHOW SOCKETS' list name: cl_active, sv_idle, …
    std::string remoteAddress;
    int remotePort = 0;
    std::string localAddress;
    int localPort = 0;
    int64_t connectMicros = 0;  // unix time
    int64_t requestMicros = 0;  // unix time of the last request
    int64_t waitMicros = 0;     // how long it has been waiting for a server
    bool closeNeeded = false;
    uintptr_t ptr = 0;
    uintptr_t link = 0;
    int remotePid = 0;
    std::string applicationName;
    int preparedStatements = 0;  // a server's: statements the pooler prepared on it
    std::string tls;  // "TLSv1.3/TLS_AES_256_GCM_SHA384", or empty
    std::string replication = "none";  // or "physical" / "logical"
    uint64_t linkId = 0;
    size_t queuedOutput = 0;  // bytes written but not yet sent (SHOW ACTIVE_SOCKETS)
    size_t bufferedInput = 0;
    // SHOW FDS: the socket, the cancel key (pid and key as one number) and the parameters a
    // takeover would carry (the client's chosen values, or what the server reported).
    int fd = -1;
    int64_t cancelKey = 0;
    std::string clientEncoding, standardConformingStrings, dateStyle, timeZone;
};

struct PoolRow {
    std::string database;
    std::string user;
    std::string poolMode;
    int clientsActive = 0;
    int clientsWaiting = 0;
    int serversActive = 0;
    int serversIdle = 0;
    int serversUsed = 0;    // idle longer than server_check_delay: checked before reuse
    int serversTested = 0;  // running server_reset_query or server_check_query
    int serversLogin = 0;
    int serversBeingCanceled = 0;  // released while a cancel for their last client is on its way
    int cancelsInFlight = 0;       // cancel requests forwarded to the pool's servers, not yet done
    int64_t maxWaitMicros = 0;
    pool::PoolStats stats;
};

// Cancel requests for one peer (SHOW PEER_POOLS): queued, and forwards connecting / sent.
struct PeerCancelCounts {
    int waiting = 0;
    int connecting = 0;
    int sent = 0;
};

struct WorkerReport {
    std::vector<ConnectionRow> clients;  // logged in (and the admin console's own)
    std::vector<ConnectionRow> loginClients;
    std::vector<ConnectionRow> servers;
    std::vector<PoolRow> pools;
    std::map<int, PeerCancelCounts> peerCancels;  // by peer id
    int adminClients = 0;
    size_t clientObjects = 0;
    size_t serverObjects = 0;
};

}  // namespace sluice::conn
