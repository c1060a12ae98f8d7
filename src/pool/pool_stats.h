// What one worker counted for one pool, as PgBouncer's SHOW STATS reports it. Plain integers:
// only the owning worker writes them, and the admin console reads them on that worker's thread.
#pragma once

#include <cstdint>

namespace sluice::pool {

struct PoolStats {
    uint64_t serverAssignments = 0;  // times a server was linked to a client
    uint64_t transactions = 0;
    uint64_t queries = 0;            // requests answered by a ReadyForQuery
    uint64_t bytesReceived = 0;      // from clients
    uint64_t bytesSent = 0;          // to clients
    uint64_t transactionMicros = 0;  // linked and inside a transaction
    uint64_t queryMicros = 0;        // from a request to its ReadyForQuery
    uint64_t waitMicros = 0;         // clients waiting for a server
    uint64_t clientLogins = 0;
    // Prepared statements in transaction pooling (max_prepared_statements).
    uint64_t clientParses = 0;  // named Parse messages from clients
    uint64_t serverParses = 0;  // Parse messages the pooler sent to servers
    uint64_t binds = 0;         // Bind messages from clients

    PoolStats& operator+=(const PoolStats& other) {
        serverAssignments += other.serverAssignments;
        transactions += other.transactions;
        queries += other.queries;
        bytesReceived += other.bytesReceived;
        bytesSent += other.bytesSent;
        transactionMicros += other.transactionMicros;
        queryMicros += other.queryMicros;
        waitMicros += other.waitMicros;
        clientLogins += other.clientLogins;
        clientParses += other.clientParses;
        serverParses += other.serverParses;
        binds += other.binds;
        return *this;
    }
};

}  // namespace sluice::pool
