// Many libpq logins at once from one thread: PQconnectStart/PQconnectPoll with a bounded number
// of logins under way, so a pooler's listen backlog is not flooded and the client does not need
// a thread per connection. Shared by bench_idle_clients (bench/) and the connection storm test
// (test/integration/), which both need thousands of authenticated connections quickly.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace sluice::logins {

struct PgConnCloser {
    void operator()(PGconn* conn) const { PQfinish(conn); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnCloser>;

struct LoginReport {
    long ok = 0;
    long failed = 0;
    double seconds = 0;      // from the first connect to the last login done
    std::string firstError;  // libpq's message on one line; "" when none failed
};

// Opens `total` connections, the i-th with conninfos[i % conninfos.size()] (several conninfos
// spread connections over addresses: one destination address and port has only the ephemeral
// port range, about 28,000, of source ports), at most maxInFlight logins under way at a time.
// Returns when every login has succeeded or failed, or at `timeout` (what is unfinished then
// counts as failed). `opened` gets one entry per connection: logged in, or null.
LoginReport openConnections(const std::vector<std::string>& conninfos, long total, long maxInFlight,
                            std::chrono::seconds timeout, std::vector<PgConnPtr>& opened);

// Every connection needs a descriptor. Raises the soft open-files limit to `needed`, and the
// hard limit too when it is lower and the process may (root, CAP_SYS_RESOURCE). Returns the soft
// limit in force afterwards (which children such as a pooler started later inherit).
long raiseFdLimit(long needed);

}  // namespace sluice::logins
