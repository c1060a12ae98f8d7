// The SHOW result sets of the admin console, each with PgBouncer 1.25's columns in PgBouncer's
// order and types; Sluice-only facts would go in extra columns at the end. Pure functions of the
// workers' reports and the configuration, so they are unit-tested without a server.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "admin/result_set.h"
#include "auth/auth_file.h"
#include "config/config.h"
#include "conn/worker_report.h"

namespace sluice::admin {

using Reports = std::vector<conn::WorkerReport>;

// What the console knows of PAUSE, SUSPEND and DISABLE.
struct PauseState {
    bool paused = false;     // PAUSE (every database) or SIGUSR1
    bool suspended = false;  // SUSPEND
    std::set<std::string> pausedDatabases;
    std::set<std::string> disabledDatabases;
};

// The name of the console's own database, as SHOW DATABASES and SHOW POOLS list it.
inline constexpr const char* kConsoleDatabase = "pgbouncer";

ResultSet showClients(const Reports& reports);
ResultSet showServers(const Reports& reports);
// SHOW SOCKETS (everything) and SHOW ACTIVE_SOCKETS (only sockets with buffered data).
ResultSet showSockets(const Reports& reports, bool activeOnly);
ResultSet showPools(const Reports& reports);
ResultSet showLists(const Reports& reports, const config::Config& config, const auth::AuthFile& authFile);
ResultSet showMem(const Reports& reports);

// `inUse`: for a multi-host database, the host its servers go to now (SHOW HOSTS); the host and
// port columns show it instead of the configured list.
ResultSet showDatabases(const Reports& reports, const config::Config& config, const PauseState& pause,
                        const std::map<std::string, config::HostAddress>& inUse = {});
ResultSet showUsers(const Reports& reports, const config::Config& config, const auth::AuthFile& authFile);
ResultSet showConfig(const config::Settings& settings);
ResultSet showVersion();
ResultSet showState(const PauseState& pause);
ResultSet showFds(const Reports& reports);
ResultSet showDnsHosts();
ResultSet showDnsZones();
// [peers] and the cancel requests forwarded to each (every configured peer has a row).
ResultSet showPeers(const config::Config& config);
ResultSet showPeerPools(const Reports& reports, const config::Config& config);

// The console's help text (a NOTICE's detail), as PgBouncer prints it.
std::string helpText();

}  // namespace sluice::admin
