// How a client of the admin console (database "pgbouncer" or "sluice") reaches the control plane:
// its queries go out as ConsoleRequests, the answers come back to its worker as bytes
// (Connections::deliverConsoleReply). The Server implements it; conn/ never includes server/.
#pragma once

#include <cstdint>
#include <string>

namespace sluice::conn {

struct ConsoleRequest {
    int worker = 0;          // the worker that owns the client
    uint64_t clientId = 0;   // its connection id (C-<id>)
    bool adminUser = false;  // admin_users (or the pooler's own unix user); else stats_users
    std::string user;
    std::string query;
};

class ConsoleGateway {
public:
    virtual ~ConsoleGateway() = default;
    // Called on the client's worker thread; the answer arrives later on that thread.
    virtual void submit(ConsoleRequest request) = 0;
};

}  // namespace sluice::conn
