// SHOW HOSTS (Sluice's own): every host of every multi-host database with what the pooler
// knows of it (DESIGN §9), and the host SHOW DATABASES reports as in use. Pure functions of
// host views, unit-tested without a server.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "admin/result_set.h"
#include "config/config.h"
#include "discovery/host_choice.h"
#include "discovery/host_registry.h"

namespace sluice::admin {

struct HostRow {
    std::string database;
    config::HostAddress address;
    discovery::HostView view;
    bool inUse = false;  // the host a new server connection of this database would go to now
};

// The rows of the configured multi-host databases (several hosts, or target_session_attrs
// other than any), in configuration order; hosts not seen yet by any pool show as unknown.
std::vector<HostRow> hostRows(const config::Config& config, const discovery::HostRegistry& registry);

ResultSet showHosts(const std::vector<HostRow>& rows);

// database → the host in use, for SHOW DATABASES' host and port columns.
std::map<std::string, config::HostAddress> hostsInUse(const std::vector<HostRow>& rows);

// Whether a multi-host database is between hosts — none qualifies — for less than `limit`
// seconds since the first failure (a failover in progress: its clients are waiting, not failing).
bool failingOverWithin(const std::vector<HostRow>& rows, const std::string& database, double limit);

}  // namespace sluice::admin
