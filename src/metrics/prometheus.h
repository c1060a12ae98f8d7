// Prometheus text exposition (version 0.0.4) of the admin console's result sets: every number
// of SHOW POOLS, STATS, DATABASES and HOSTS becomes a sample of `sluice_<show>_<column>` labelled with
// its database (and user), so dashboards need no exporter. Pure code, unit-tested.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "admin/result_set.h"

namespace sluice::metrics {

struct ShowSet {
    std::string_view name;  // "pools", "stats", "databases": the metric prefix after "sluice_"
    const admin::ResultSet* set;
};

// Figures about the process itself.
struct ProcessFacts {
    double uptimeSeconds = 0;
    uint64_t residentBytes = 0;
    int openFds = 0;
    int clients = 0;
    int servers = 0;
    uint64_t reloads = 0;
    uint64_t reloadFailures = 0;
    bool paused = false;
    uint64_t failovers = 0;    // multi-host: primary moved
    uint64_t roleChanges = 0;  // multi-host: a host changed role
    uint64_t serverHandOffs = 0;   // workers: servers handed, logged in, to another worker
    uint64_t serverGiveAways = 0;  // workers: servers closed so that another worker opens one
};

std::string prometheusText(const std::vector<ShowSet>& sets, const ProcessFacts& process);

// Reads the resident set size and the count of open descriptors from /proc/self.
void readProcFacts(ProcessFacts& facts);

}  // namespace sluice::metrics
