// Tests of the replicated-cluster fixture itself (pg_cluster.h): replication, crash and
// promotion, freeze and thaw, split brain, and that nothing is left behind.
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pg_cluster.h"
#include "pg_server.h"
#include "pq_util.h"

namespace sluice::itest {
namespace {

using Clock = std::chrono::steady_clock;

// As the app user over TCP, every wait bounded: a hanging node fails the test, it never hangs it.
QueryResult appQuery(const PgServer& server, const std::string& sql, std::chrono::milliseconds timeout = 5s) {
    PqConn conn(server.tcpConninfo(PgServer::kAppUser, PgServer::kAppPassword, PgServer::kAppDatabase), timeout);
    if (!conn.isOk()) {
        QueryResult failed;
        failed.error = "cannot connect: " + conn.error();
        return failed;
    }
    return conn.exec(sql, timeout);
}

// /proc/<pid>/stat: state and parent pid (the command name may hold spaces and parentheses).
bool procState(pid_t pid, char* state, pid_t* ppid) {
    std::string stat = readTextFile("/proc/" + std::to_string(pid) + "/stat");
    std::size_t close = stat.rfind(')');
    int parent = 0;
    if (close == std::string::npos || close + 2 >= stat.size() ||
        std::sscanf(stat.c_str() + close + 2, "%c %d", state, &parent) != 2) {
        return false;
    }
    *ppid = parent;
    return true;
}

std::vector<pid_t> childrenOf(pid_t parent) {
    std::vector<pid_t> children;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        char state = 0;
        pid_t ppid = 0;
        pid_t pid = static_cast<pid_t>(std::stol(name));
        if (procState(pid, &state, &ppid) && ppid == parent) children.push_back(pid);
    }
    return children;
}

bool processGone(pid_t pid) {
    char state = 0;
    pid_t ppid = 0;
    // Gone, or a zombie nobody reaped yet (not our child: pg_ctl started it).
    return !procState(pid, &state, &ppid) || state == 'Z' || state == 'X';
}

TEST(PgCluster, ARowInsertedOnThePrimaryReachesEveryStandby) {
    const auto started = Clock::now();
    PgCluster cluster;
    cluster.start(2);
    std::printf("primary + 2 standbys started in %lld ms\n", elapsedMs(started));
    ASSERT_EQ(cluster.size(), 3);

    EXPECT_FALSE(cluster.isInRecovery(0));
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(cluster.isRunning(i)) << i;
        EXPECT_EQ(cluster.node(i).host(), "127.0.0.1");
        for (int j = 0; j < i; ++j) {
            EXPECT_NE(cluster.node(i).port(), cluster.node(j).port());
            EXPECT_NE(cluster.node(i).socketDir(), cluster.node(j).socketDir());
            EXPECT_NE(cluster.node(i).dataDir(), cluster.node(j).dataDir());
        }
    }
    for (int i = 1; i < 3; ++i) {
        EXPECT_TRUE(cluster.isInRecovery(i)) << i;
        EXPECT_EQ(cluster.node(i).query1("SELECT status FROM pg_stat_wal_receiver"), "streaming") << i;
        EXPECT_EQ(cluster.timeline(i), cluster.timeline(0)) << i;
    }
    EXPECT_EQ(cluster.node(0).query1("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"), "2");

    QueryResult created = appQuery(cluster.node(0), "CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
    ASSERT_TRUE(created.ok) << created.describe();
    for (int i = 1; i < 3; ++i) {
        EXPECT_TRUE(cluster.waitForValue(i, "SELECT count(*) FROM t", "1", 10s, "app")) << i;
        // Roles and passwords come with the copy: app logs in over TCP on the standby too.
        QueryResult read = appQuery(cluster.node(i), "SELECT id FROM t");
        EXPECT_TRUE(read.ok) << read.describe();
        EXPECT_EQ(read.value(), "1");
        EXPECT_EQ(appQuery(cluster.node(i), "INSERT INTO t VALUES (9)").sqlstate, "25006");  // read-only
    }

    // A standby stopped cleanly catches up on what it missed once restarted.
    cluster.stopClean(2);
    EXPECT_FALSE(cluster.isRunning(2));
    EXPECT_FALSE(cluster.node(2).isRunning());
    ASSERT_TRUE(appQuery(cluster.node(0), "INSERT INTO t VALUES (2)").ok);
    cluster.restart(2);
    EXPECT_TRUE(cluster.isRunning(2));
    EXPECT_TRUE(cluster.waitStreaming(2, 10s));
    EXPECT_TRUE(cluster.waitForValue(2, "SELECT count(*) FROM t", "2", 10s, "app"));
}

TEST(PgCluster, PromoteAfterACrashGivesAWritableStandbyOnAHigherTimeline) {
    PgCluster cluster;
    PgClusterOptions options;
    options.synchronous = true;
    cluster.start(1, options);
    EXPECT_EQ(cluster.node(0).query1("SHOW synchronous_standby_names"), "*");
    EXPECT_EQ(cluster.node(0).query1("SHOW synchronous_commit"), "on");
    EXPECT_EQ(cluster.node(0).query1("SELECT sync_state FROM pg_stat_replication"), "sync");

    // Acknowledged on a synchronous primary: flushed on the standby, so it survives the crash.
    ASSERT_TRUE(appQuery(cluster.node(0), "CREATE TABLE t (id int); INSERT INTO t VALUES (1)").ok);
    const int before = cluster.timeline(1);
    EXPECT_EQ(before, cluster.timeline(0));

    cluster.crash(0);
    EXPECT_FALSE(cluster.isRunning(0));
    EXPECT_FALSE(appQuery(cluster.node(0), "SELECT 1", 2s).ok);
    EXPECT_TRUE(cluster.isInRecovery(1));

    const auto promoting = Clock::now();
    cluster.promote(1);
    std::printf("promotion took %lld ms\n", elapsedMs(promoting));
    EXPECT_FALSE(cluster.isInRecovery(1));
    EXPECT_GT(cluster.timeline(1), before);
    QueryResult rows = appQuery(cluster.node(1), "INSERT INTO t VALUES (2); SELECT count(*) FROM t");
    EXPECT_TRUE(rows.ok) << rows.describe();
    EXPECT_EQ(rows.value(), "2");
}

TEST(PgCluster, AFrozenNodeHangsWithItsSocketsOpenAndAnswersWhenThawed) {
    std::string dataDir;
    pid_t postmaster = -1;
    Clock::time_point destroying;
    {
        PgCluster cluster;
        cluster.start(1);
        const PgServer& primary = cluster.node(0);
        PqConn open(primary.tcpConninfo(PgServer::kAppUser, PgServer::kAppPassword, PgServer::kAppDatabase), 5s);
        ASSERT_TRUE(open.isOk()) << open.error();

        cluster.freeze(0);
        EXPECT_TRUE(cluster.isFrozen(0));
        EXPECT_TRUE(cluster.isRunning(0));
        // The postmaster and every child of it (backends, walsender, checkpointer, …) are stopped.
        std::vector<pid_t> processes = childrenOf(primary.postmasterPid());
        EXPECT_GE(processes.size(), 4u);
        processes.push_back(primary.postmasterPid());
        for (pid_t pid : processes) {
            char state = 0;
            pid_t ppid = 0;
            if (procState(pid, &state, &ppid)) {
                EXPECT_EQ(state, 'T') << "pid " << pid;
            }
        }

        // The open connection neither answers nor closes.
        auto since = Clock::now();
        QueryResult hung = open.exec("SELECT 1", 700ms);
        EXPECT_FALSE(hung.ok);
        EXPECT_GE(elapsedMs(since), 650);
        // A new one: the kernel completes the TCP handshake, then nothing.
        since = Clock::now();
        PqConn fresh(primary.tcpConninfo(PgServer::kAppUser, PgServer::kAppPassword, PgServer::kAppDatabase), 700ms);
        EXPECT_FALSE(fresh.isOk());
        EXPECT_NE(fresh.error().find("timed out"), std::string::npos) << fresh.error();
        EXPECT_GE(elapsedMs(since), 650);
        // The standby is a different host: it still answers.
        EXPECT_TRUE(appQuery(cluster.node(1), "SELECT 1", 2s).ok);

        cluster.thaw(0);
        EXPECT_FALSE(cluster.isFrozen(0));
        QueryResult back = appQuery(primary, "SELECT 41 + 1");
        EXPECT_TRUE(back.ok) << back.describe();
        EXPECT_EQ(back.value(), "42");

        // Left frozen: the destructor must thaw it to stop it.
        cluster.freeze(0);
        cluster.freeze(1);
        dataDir = primary.dataDir();
        postmaster = primary.postmasterPid();
        ASSERT_GT(postmaster, 0);
        destroying = Clock::now();
    }
    const long long destroyMs = elapsedMs(destroying);
    std::printf("destructor of a frozen cluster took %lld ms\n", destroyMs);
    EXPECT_LT(destroyMs, 10000);
    EXPECT_TRUE(processGone(postmaster));
    EXPECT_FALSE(std::filesystem::exists(dataDir));
}

// The test process dies (SIGKILL: no destructor) with both nodes frozen: each node's watchdog
// thaws it, stops it and removes its directory.
TEST(PgCluster, ATestProcessKilledWithFrozenNodesLeavesNothingBehind) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        close(fds[0]);
        std::string report;
        try {
            PgCluster cluster;
            cluster.start(1);
            cluster.freeze(0);
            cluster.freeze(1);
            for (int i = 0; i < 2; ++i) {
                report += std::to_string(cluster.node(i).postmasterPid()) + " " + cluster.node(i).dataDir() + "\n";
            }
            if (write(fds[1], report.data(), report.size()) != static_cast<ssize_t>(report.size())) _exit(1);
            for (;;) pause();  // until SIGKILL
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child: %s\n", e.what());
            _exit(1);
        }
    }
    close(fds[1]);
    std::string report;
    const auto deadline = Clock::now() + 60s;
    char buffer[4096];
    while (std::count(report.begin(), report.end(), '\n') < 2 && waitFd(fds[0], POLLIN, deadline)) {
        ssize_t n = read(fds[0], buffer, sizeof buffer);
        if (n <= 0) break;
        report.append(buffer, static_cast<std::size_t>(n));
    }
    close(fds[0]);
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_EQ(std::count(report.begin(), report.end(), '\n'), 2) << "the child did not start its cluster: " << report;

    std::istringstream lines(report);
    pid_t pid = 0;
    std::string dataDir;
    while (lines >> pid >> dataDir) {
        const auto since = Clock::now();
        while ((!processGone(pid) || std::filesystem::exists(dataDir)) && elapsedMs(since) < 15000) {
            std::this_thread::sleep_for(20ms);
        }
        EXPECT_TRUE(processGone(pid)) << pid;
        EXPECT_FALSE(std::filesystem::exists(dataDir)) << dataDir;
    }
}

TEST(PgCluster, RestartAsPrimaryAfterAPromotionMakesASplitBrainThatARewindEnds) {
    PgCluster cluster;
    PgClusterOptions options;
    options.synchronous = true;  // the old primary must commit alone once restarted
    cluster.start(2, options);
    ASSERT_TRUE(appQuery(cluster.node(0), "CREATE TABLE t (who text)").ok);
    for (int i = 1; i < 3; ++i) {
        ASSERT_TRUE(cluster.waitForValue(i, "SELECT to_regclass('t') IS NOT NULL", "t", 10s, "app")) << i;
    }

    cluster.crash(0);
    // As a failover tool would: promote the standby that received the most, the other follows it.
    const std::string lsn1 = cluster.node(1).query1("SELECT pg_last_wal_receive_lsn()");
    const std::string lsn2 = cluster.node(2).query1("SELECT pg_last_wal_receive_lsn()");
    const bool oneIsAhead = cluster.node(1).query1("SELECT '" + lsn1 + "'::pg_lsn >= '" + lsn2 + "'::pg_lsn") == "t";
    const int promoted = oneIsAhead ? 1 : 2;
    const int other = 3 - promoted;
    cluster.promote(promoted);
    cluster.follow(other, promoted);
    cluster.restartAsPrimary(0);
    EXPECT_TRUE(cluster.isRunning(0));
    EXPECT_TRUE(cluster.isRunning(promoted));

    EXPECT_FALSE(cluster.isInRecovery(0));
    EXPECT_FALSE(cluster.isInRecovery(promoted));
    EXPECT_TRUE(cluster.isInRecovery(other));
    EXPECT_GT(cluster.timeline(promoted), cluster.timeline(0));
    EXPECT_FALSE(std::filesystem::exists(cluster.node(0).dataDir() + "/standby.signal"));
    EXPECT_EQ(cluster.node(0).query1("SHOW synchronous_standby_names"), "");

    // Both take writes, and they diverge; the other standby sees the promoted node's.
    const std::string rows = "SELECT string_agg(who, ',' ORDER BY who) FROM t";
    QueryResult old = appQuery(cluster.node(0), "INSERT INTO t VALUES ('old'); " + rows);
    QueryResult fresh = appQuery(cluster.node(promoted), "INSERT INTO t VALUES ('new'); " + rows);
    EXPECT_TRUE(old.ok) << old.describe();
    EXPECT_TRUE(fresh.ok) << fresh.describe();
    EXPECT_EQ(old.value(), "old");
    EXPECT_EQ(fresh.value(), "new");
    EXPECT_TRUE(cluster.waitForValue(other, rows, "new", 10s, "app"));

    // The old primary rewound into a standby of the promoted one: its own write is gone.
    cluster.rejoinAsStandby(0, promoted);
    EXPECT_TRUE(cluster.isInRecovery(0));
    EXPECT_EQ(cluster.timeline(0), cluster.timeline(promoted));
    ASSERT_TRUE(appQuery(cluster.node(promoted), "INSERT INTO t VALUES ('newer')").ok);
    EXPECT_TRUE(cluster.waitForValue(0, rows, "new,newer", 10s, "app"));
}

}  // namespace
}  // namespace sluice::itest
