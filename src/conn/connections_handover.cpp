// The worker's part of the online restart (-R; DESIGN §3): its clients leaving for the new
// process as they come to rest, and, in the new process, taking them in.
#include <unistd.h>

#include "conn/client_conn.h"
#include "conn/connections.h"
#include "util/log.h"

namespace sluice::conn {

void Connections::startHandOver(HandOverSink sink) {
    handOverSink_ = std::move(sink);
    for (ClientConn* client : allClients())
        if (client->atRest()) queueHandOver(*client);
}

void Connections::stopHandOver() {
    handOverSink_ = nullptr;
    for (ClientConn* client : handOversQueued_) client->resumeAfterSuspend();  // reads where it was
    handOversQueued_.clear();
}

void Connections::queueHandOver(ClientConn& client) {
    // Unread input is the start of its next transaction: it goes at its next rest instead.
    if (!client.movable() || client.socket().bufferedInput() != 0) return;
    // What it sends from now on stays in the kernel for the new process to read.
    client.socket().stopReading();
    handOversQueued_.insert(&client);
    // Its last answer goes out at the end of this loop iteration; the posted task runs after.
    if (!handOverFlushPosted_ && mesh_) {
        handOverFlushPosted_ = true;
        mesh_->postToWorker(workerIndex_, [](Connections& connections) {
            connections.handOverFlushPosted_ = false;
            connections.flushHandOvers();
        });
    }
}

void Connections::flushHandOvers() {
    std::vector<ClientConn*> queued(handOversQueued_.begin(), handOversQueued_.end());
    for (ClientConn* client : queued) {
        if (auto leaving = client->handOver()) {
            handOversQueued_.erase(client);
            handOverSink_(std::move(*leaving));
        } else if (!client->atRest()) {
            // Closed, or a request came after all (from what was buffered): it goes at its next rest.
            handOversQueued_.erase(client);
            client->resumeAfterSuspend();
        }
        // Else its output (or its server's) is still on its way: the sweep tries again.
    }
}

void Connections::adoptClient(LeavingClient leaving) {
    ClientConn& ref = adoptClientObject(std::make_unique<ClientConn>(*this, nextId()));
    if (!ref.adopt(std::move(leaving))) {
        SLOG_WARN("a client handed over by the previous process could not be taken in");
        if (!ref.socket().hasHandle()) destroy(ref);  // else it is freed once its handle closes
    }
}

Result<net::DetachedStream> Connections::detachTakeoverChannel(uint64_t consoleClientId) {
    auto it = consoleClients_.find(consoleClientId);
    if (it == consoleClients_.end()) return Error{"the console client left"};
    ClientConn& client = *it->second.client;
    auto credentials = client.socket().peerCredentials();
    if (client.user() != "pgbouncer" || !credentials || credentials->first != ::getuid())
        return Error{"TAKEOVER is for the pooler's own unix user, logged in as \"pgbouncer\" over the unix socket"};
    return client.detachTakeoverChannel();
}

}  // namespace sluice::conn
