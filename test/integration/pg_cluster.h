// A throwaway replicated PostgreSQL cluster for failover tests: one primary (a PgServer with the
// usual roles, see pg_server.h) and N streaming standbys made with pg_basebackup -R, each with
// its own port, temp dir and unix socket dir, plus failure drills: crash, clean stop, freeze
// (SIGSTOP: the host hangs with its sockets open), promote, restart, and restarting a crashed
// old primary as a primary (split brain).
//
// Node 0 is the initial primary, nodes 1..N its standbys; indexes never change, whatever role a
// node has later. Every drill is bounded in time and throws std::runtime_error on failure.
// The destructor thaws frozen nodes, stops every node (immediate) and removes the temp dirs; if
// the test process dies, each node's PgServer watchdog does the same (thawing it first).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "pg_server.h"

namespace sluice::itest {

struct PgClusterOptions {
    // The primary gets synchronous_standby_names = '*' and synchronous_commit = on once its
    // standbys stream, so every acknowledged commit is flushed on a standby. Only the initial
    // primary: a promoted standby commits alone, and restartAsPrimary() clears the setting.
    // Without standbys it has no effect.
    bool synchronous = false;
    // postgresql.conf lines for every node, after the cluster's own (later lines win).
    std::vector<std::string> extraConf;
    // pg_hba method for TCP on 127.0.0.1, as PgServerOptions::tcpAuth.
    std::string tcpAuth = "scram-sha-256";
    // Where the nodes' temp dirs go. Empty: /dev/shm when it has 1 GiB free (pg_basebackup
    // copies every node's data directory, and disk writes make that the slow part), else /tmp.
    std::string tempParent;
};

class PgCluster {
public:
    PgCluster() = default;
    ~PgCluster();
    PgCluster(const PgCluster&) = delete;
    PgCluster& operator=(const PgCluster&) = delete;

    // Primary plus `standbys` standbys, returning once every standby is in recovery and
    // streaming (and, when synchronous, the primary has a synchronous standby). Call once.
    void start(int standbys, const PgClusterOptions& options = {});

    int size() const { return static_cast<int>(nodes_.size()); }
    // host() "127.0.0.1", port(), socketDir(), dataDir(), query1()/exec() as superuser over
    // the unix socket, tcpConninfo(), … Do not stop/restart it directly: use the drills below.
    PgServer& node(int i);
    const PgServer& node(int i) const;

    // Whether node i's postmaster process exists (frozen counts as running).
    bool isRunning(int i) const;
    bool isFrozen(int i) const;
    // SELECT pg_is_in_recovery() on node i.
    bool isInRecovery(int i) const;
    // Node i's current timeline: on a primary from pg_walfile_name(pg_current_wal_lsn()), on a
    // standby received_tli of pg_stat_wal_receiver, else the timeline of its last checkpoint.
    int timeline(int i) const;

    // ---- failure drills ----
    // pg_ctl stop -m immediate (a frozen node is thawed first).
    void crash(int i);
    // pg_ctl stop -m fast (a frozen node is thawed first).
    void stopClean(int i);
    // SIGSTOP / SIGCONT to the postmaster and all its children: connections stay open, nothing
    // answers. freeze() returns once every process is stopped.
    void freeze(int i);
    void thaw(int i);
    // pg_promote(wait => true) and waits until pg_is_in_recovery() is false.
    void promote(int i);
    // Starts a stopped node again on its port and data dir (a running one is stopped fast
    // first), returning when it accepts connections. A standby comes back as a standby.
    void restart(int i);
    // Starts a stopped node as a standalone primary: removes standby.signal/recovery.signal
    // and clears synchronous_standby_names so it commits alone. With a promoted standby
    // elsewhere this is a split brain on purpose: two primaries on different timelines.
    void restartAsPrimary(int i);
    // Points running standby i at node `primary` (primary_conninfo, reloaded), e.g. the other
    // standbys after a promotion; returns once it streams from there.
    void follow(int i, int primary);
    // Turns node i (stopped or running; typically the old primary after a failover) into a
    // standby of node `primary`: stops it, pg_rewind from `primary` (which drops whatever i wrote
    // after the timelines forked), standby.signal, start, and waits until it streams.
    void rejoinAsStandby(int i, int primary);

    // Polls node i with `sql` (as superuser, database db) until it returns `expected`; false
    // after timeout. For "the row reached the standby" assertions.
    bool waitForValue(int i, const std::string& sql, const std::string& expected,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10), const std::string& db = "postgres") const;
    // Waits until standby i streams from its primary (pg_stat_wal_receiver status 'streaming').
    bool waitStreaming(int i, std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

private:
    struct Node {
        std::unique_ptr<PgServer> server;
        bool frozen = false;
    };
    Node& at(int i);
    const Node& at(int i) const;
    void signalNode(int i, int signal);
    std::string primaryConninfo(int primary, int standby) const;
    void waitStreamingFrom(int i, int primary) const;

    PgClusterOptions options_;
    std::vector<Node> nodes_;
};

}  // namespace sluice::itest
