#include "pg_cluster.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "pq_util.h"

namespace sluice::itest {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kPollInterval = std::chrono::milliseconds(20);

struct ProcStat {
    pid_t pid = 0;
    pid_t ppid = 0;
    char state = '?';  // R S D T t Z X …
};

// Fields 3 and 4 of /proc/<pid>/stat; the command name (field 2) may hold spaces and
// parentheses, so parsing starts after its last ')'.
std::optional<ProcStat> readProcStat(pid_t pid) {
    std::string text = readTextFile("/proc/" + std::to_string(pid) + "/stat");
    std::size_t close = text.rfind(')');
    if (close == std::string::npos || close + 2 >= text.size()) return std::nullopt;
    ProcStat stat;
    stat.pid = pid;
    int ppid = 0;
    if (std::sscanf(text.c_str() + close + 2, "%c %d", &stat.state, &ppid) != 2) return std::nullopt;
    stat.ppid = ppid;
    return stat;
}

bool processAlive(pid_t pid) {
    if (pid <= 0) return false;
    std::optional<ProcStat> stat = readProcStat(pid);
    return stat && stat->state != 'Z' && stat->state != 'X';
}

// Every process below root (children, their children, …), parents before children.
std::vector<pid_t> descendants(pid_t root) {
    std::multimap<pid_t, pid_t> children;
    if (DIR* dir = opendir("/proc")) {
        while (dirent* entry = readdir(dir)) {
            char* end = nullptr;
            long pid = std::strtol(entry->d_name, &end, 10);
            if (end == entry->d_name || *end != '\0' || pid <= 0) continue;
            if (std::optional<ProcStat> stat = readProcStat(static_cast<pid_t>(pid))) {
                children.emplace(stat->ppid, stat->pid);
            }
        }
        closedir(dir);
    }
    std::vector<pid_t> out;
    std::vector<pid_t> pending{root};
    while (!pending.empty()) {
        pid_t parent = pending.back();
        pending.pop_back();
        auto [first, last] = children.equal_range(parent);
        for (auto it = first; it != last; ++it) {
            out.push_back(it->second);
            pending.push_back(it->second);
        }
    }
    return out;
}

// Until every pid is stopped by a signal (state 'T') or gone; false at the deadline.
bool waitStopped(const std::vector<pid_t>& pids, Clock::time_point deadline) {
    for (;;) {
        bool all = true;
        for (pid_t pid : pids) {
            std::optional<ProcStat> stat = readProcStat(pid);
            if (stat && stat->state != 'T' && stat->state != 'Z' && stat->state != 'X') all = false;
        }
        if (all) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

// One query as the superuser over the unix socket with every wait bounded; never throws.
QueryResult boundedQuery(const PgServer& server, const std::string& sql, std::chrono::milliseconds timeout,
                         const std::string& db = "postgres") {
    QueryResult failed;
    const auto deadline = Clock::now() + timeout;
    PqConn conn;
    if (!conn.connect(server.socketConninfo(db), timeout)) {
        failed.error = "cannot connect: " + conn.error();
        return failed;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return conn.exec(sql, std::max(left, std::chrono::milliseconds(1)));
}

std::string describeNode(int i) { return "node " + std::to_string(i); }


// The fixture writes some configuration files as root; PostgreSQL's own programs (pg_rewind)
// must be able to rewrite them: give the data directory's files to its owner.
void chownToDataDirOwner(const std::string& dataDir) {
    struct stat dir {};
    if (stat(dataDir.c_str(), &dir) != 0) throw std::runtime_error("stat " + dataDir + ": " + std::strerror(errno));
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dataDir, ec)) {
        struct stat file {};
        const std::string path = entry.path().string();
        if (lstat(path.c_str(), &file) != 0 || !S_ISREG(file.st_mode)) continue;
        if ((file.st_uid != dir.st_uid || file.st_gid != dir.st_gid) && lchown(path.c_str(), dir.st_uid, dir.st_gid) != 0) {
            throw std::runtime_error("chown " + path + ": " + std::strerror(errno));
        }
    }
}

std::string defaultTempParent() {
    struct statvfs fs {};
    if (statvfs("/dev/shm", &fs) == 0 && access("/dev/shm", W_OK | X_OK) == 0 &&
        static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize >= (1ULL << 30)) {
        return "/dev/shm";
    }
    return "/tmp";
}

}  // namespace

PgCluster::~PgCluster() {
    // Thaw first: a stopped postmaster would never act on pg_ctl's signal.
    for (int i = size() - 1; i >= 0; --i) {
        try {
            thaw(i);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "PgCluster: thaw of node %d failed: %s\n", i, e.what());
        }
    }
    for (int i = size() - 1; i >= 0; --i) {
        try {
            if (nodes_[i].server) nodes_[i].server->stopImmediate();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "PgCluster: stop of node %d failed: %s\n", i, e.what());
        }
    }
    nodes_.clear();  // each PgServer stops its watchdog and removes its directory
}

void PgCluster::start(int standbys, const PgClusterOptions& options) {
    if (!nodes_.empty()) throw std::logic_error("PgCluster::start called twice");
    if (standbys < 0) throw std::invalid_argument("PgCluster::start: negative standby count");
    options_ = options;

    PgServerOptions base;
    base.tcpAuth = options.tcpAuth;
    base.tempParent = options.tempParent.empty() ? defaultTempParent() : options.tempParent;
    base.extraHba = {
        "local replication all trust",
        "host replication all 127.0.0.1/32 " + options.tcpAuth,
    };
    const std::vector<std::string> replicationConf = {
        "wal_level = replica",
        "max_wal_senders = 10",
        "max_replication_slots = 10",
        "hot_standby = on",
        // Enough for a stopped standby or an old primary to catch up again without an archive.
        "wal_keep_size = '64MB'",
        // pg_rewind needs both.
        "wal_log_hints = on",
        "full_page_writes = on",
        // A standby whose primary went away retries every 5 s by default.
        "wal_retrieve_retry_interval = '100ms'",
        // Commits are asynchronous (the fixture's synchronous_commit = off) and a walsender only
        // sends flushed WAL: flush often so that standbys lag by milliseconds, not 200+.
        "wal_writer_delay = '10ms'",
    };

    for (int i = 0; i <= standbys; ++i) {
        PgServerOptions nodeOptions = base;
        nodeOptions.extraConf = replicationConf;
        nodeOptions.extraConf.push_back("cluster_name = 'node" + std::to_string(i) + "'");
        nodeOptions.extraConf.insert(nodeOptions.extraConf.end(), options.extraConf.begin(), options.extraConf.end());
        nodes_.push_back(Node{std::make_unique<PgServer>(), false});
        if (i == 0) {
            nodes_[0].server->start(nodeOptions);
        } else {
            nodes_[i].server->startStandby(*nodes_[0].server, nodeOptions);
        }
    }
    for (int i = 1; i <= standbys; ++i) {
        if (!waitStreaming(i)) {
            throw std::runtime_error("PgCluster: standby " + std::to_string(i) + " does not stream after 30 s; its log:\n" +
                                     lastLines(node(i).logContents(), 30));
        }
    }

    if (options.synchronous && standbys > 0) {
        // Only now: with a synchronous standby required, the role setup above would have waited forever.
        // ALTER SYSTEM goes to postgresql.auto.conf, read after postgresql.conf; the standbys' copies predate it.
        PgServer& primary = node(0);
        primary.exec("ALTER SYSTEM SET synchronous_standby_names = '*'");
        primary.exec("ALTER SYSTEM SET synchronous_commit = on");
        primary.exec("SELECT pg_reload_conf()");
        if (!waitForValue(0, "SHOW synchronous_standby_names", "*", std::chrono::seconds(10)) ||
            !waitForValue(0, "SELECT count(*) > 0 FROM pg_stat_replication WHERE sync_state = 'sync'", "t",
                          std::chrono::seconds(10))) {
            throw std::runtime_error("PgCluster: the primary has no synchronous standby after 10 s:\n" +
                                     boundedQuery(primary,
                                                  "SELECT string_agg(application_name || ' ' || state || ' ' || "
                                                  "sync_state, ', ') FROM pg_stat_replication",
                                                  std::chrono::seconds(5))
                                         .value());
        }
    }
}

PgCluster::Node& PgCluster::at(int i) {
    if (i < 0 || i >= size()) throw std::out_of_range("PgCluster: no " + describeNode(i));
    return nodes_[i];
}

const PgCluster::Node& PgCluster::at(int i) const {
    if (i < 0 || i >= size()) throw std::out_of_range("PgCluster: no " + describeNode(i));
    return nodes_[i];
}

PgServer& PgCluster::node(int i) { return *at(i).server; }

const PgServer& PgCluster::node(int i) const { return *at(i).server; }

bool PgCluster::isRunning(int i) const { return processAlive(at(i).server->postmasterPid()); }

bool PgCluster::isFrozen(int i) const { return at(i).frozen; }

bool PgCluster::isInRecovery(int i) const {
    QueryResult result = boundedQuery(node(i), "SELECT pg_is_in_recovery()", std::chrono::seconds(10));
    if (!result.ok) throw std::runtime_error("PgCluster: pg_is_in_recovery() on " + describeNode(i) + ": " + result.describe());
    return result.value() == "t";
}

int PgCluster::timeline(int i) const {
    // One statement, so a promotion cannot fall between the question and the answer.
    QueryResult result = boundedQuery(
        node(i),
        "SELECT CASE WHEN pg_is_in_recovery() THEN "
        "  coalesce((SELECT received_tli FROM pg_stat_wal_receiver WHERE received_tli > 0), "
        "           (SELECT timeline_id FROM pg_control_checkpoint())) "
        "ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END",
        std::chrono::seconds(10));
    if (!result.ok || result.value().empty()) {
        throw std::runtime_error("PgCluster: timeline of " + describeNode(i) + ": " + result.describe());
    }
    return std::stoi(result.value());
}

void PgCluster::crash(int i) {
    thaw(i);
    at(i).server->stopImmediate();
}

void PgCluster::stopClean(int i) {
    thaw(i);
    at(i).server->stop();
}

void PgCluster::signalNode(int i, int signal) {
    pid_t postmaster = at(i).server->postmasterPid();
    if (!processAlive(postmaster)) throw std::runtime_error("PgCluster: " + describeNode(i) + " is not running");
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    if (signal == SIGSTOP) {
        // The postmaster first, and only then its children: once it is stopped it forks no more.
        // (Each child of the postmaster leads its own process group, so a group signal would not do.)
        if (kill(postmaster, SIGSTOP) != 0) throw std::runtime_error(std::string("kill SIGSTOP: ") + std::strerror(errno));
        at(i).frozen = true;
        if (!waitStopped({postmaster}, deadline)) throw std::runtime_error("PgCluster: postmaster did not stop");
        std::vector<pid_t> children = descendants(postmaster);
        for (pid_t child : children) kill(child, SIGSTOP);
        if (!waitStopped(children, deadline)) throw std::runtime_error("PgCluster: a child of the postmaster did not stop");
    } else {
        for (pid_t child : descendants(postmaster)) kill(child, signal);
        kill(postmaster, signal);
    }
}

void PgCluster::freeze(int i) {
    if (at(i).frozen) return;
    signalNode(i, SIGSTOP);
}

void PgCluster::thaw(int i) {
    if (!at(i).frozen) return;
    at(i).frozen = false;
    if (!isRunning(i)) return;
    signalNode(i, SIGCONT);
}

void PgCluster::promote(int i) {
    if (at(i).frozen) throw std::logic_error("PgCluster::promote: " + describeNode(i) + " is frozen");
    QueryResult result = boundedQuery(node(i), "SELECT pg_promote(true, 60)", std::chrono::seconds(65));
    if (!result.ok || result.value() != "t") {
        throw std::runtime_error("PgCluster: pg_promote on " + describeNode(i) + ": " + result.describe() + " " +
                                 result.value() + "\n" + lastLines(node(i).logContents(), 20));
    }
    if (!waitForValue(i, "SELECT pg_is_in_recovery()", "f", std::chrono::seconds(30))) {
        throw std::runtime_error("PgCluster: " + describeNode(i) + " still in recovery 30 s after pg_promote");
    }
}

void PgCluster::restart(int i) {
    thaw(i);
    at(i).server->restart();
}

void PgCluster::restartAsPrimary(int i) {
    Node& n = at(i);
    if (isRunning(i) || n.server->isRunning()) {
        throw std::logic_error("PgCluster::restartAsPrimary: " + describeNode(i) + " is running; crash() it first");
    }
    for (const char* signalFile : {"/standby.signal", "/recovery.signal"}) {
        std::error_code ec;
        fs::remove(n.server->dataDir() + signalFile, ec);
    }
    n.server->restart();
    // A synchronous old primary would wait forever for a standby to acknowledge its commits.
    n.server->exec("ALTER SYSTEM RESET synchronous_standby_names");
    n.server->exec("SELECT pg_reload_conf()");
    if (!waitForValue(i, "SHOW synchronous_standby_names", "", std::chrono::seconds(10)) ||
        !waitForValue(i, "SELECT pg_is_in_recovery()", "f", std::chrono::seconds(30))) {
        throw std::runtime_error("PgCluster: " + describeNode(i) + " did not come back as a primary:\n" +
                                 lastLines(n.server->logContents(), 20));
    }
}

std::string PgCluster::primaryConninfo(int primary, int standby) const {
    const PgServer& upstream = node(primary);
    return conninfo({{"host", upstream.socketDir()},
                     {"port", std::to_string(upstream.port())},
                     {"user", PgServer::kSuperuser},
                     {"application_name", "node" + std::to_string(standby)}});
}

void PgCluster::follow(int i, int primary) {
    if (i == primary) throw std::invalid_argument("PgCluster::follow: a node cannot follow itself");
    node(i).exec("ALTER SYSTEM SET primary_conninfo = " + sqlLiteral(primaryConninfo(primary, i)));
    node(i).exec("SELECT pg_reload_conf()");
    waitStreamingFrom(i, primary);
}

void PgCluster::waitStreamingFrom(int i, int primary) const {
    // On the primary's timeline: a standby that cannot follow it (its history forked off
    // earlier) still streams, briefly and over and over, on the old one.
    const std::string streamingFromPrimary =
        "SELECT pg_is_in_recovery() AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming' "
        "AND sender_port = " + std::to_string(node(primary).port()) +
        " AND received_tli = " + std::to_string(timeline(primary)) + ")";
    if (!waitForValue(i, streamingFromPrimary, "t", std::chrono::seconds(30))) {
        throw std::runtime_error("PgCluster: " + describeNode(i) + " does not stream from " + describeNode(primary) +
                                 " on its timeline after 30 s:\n" + lastLines(node(i).logContents(), 20));
    }
}

void PgCluster::rejoinAsStandby(int i, int primary) {
    if (i == primary) throw std::invalid_argument("PgCluster::rejoinAsStandby: a node cannot follow itself");
    PgServer& server = node(i);
    if (server.isRunning()) stopClean(i);
    const std::string dataDir = server.dataDir();
    const std::string baseDir = fs::path(dataDir).parent_path().string();
    // pg_rewind copies the source's configuration files too: keep this node's own.
    const std::string ownConf = readTextFile(dataDir + "/sluice_test.conf");
    const std::string ownAutoConf = readTextFile(dataDir + "/postgresql.auto.conf");
    const std::string rewindLog = baseDir + "/pg_rewind.log";
    const PgServer& source = node(primary);
    // pg_rewind reads the source's timeline from its control file, which a promotion updates
    // only at the end of its (spread) checkpoint: without this it may find "no rewind required".
    source.exec("CHECKPOINT");
    chownToDataDirOwner(dataDir);
    int rc = runPgProgram({server.bindir() + "/pg_rewind", "--target-pgdata=" + dataDir,
                           "--source-server=" + source.socketConninfo("postgres"), "--no-sync"},
                          baseDir, rewindLog);
    if (rc != 0) {
        throw std::runtime_error("PgCluster: pg_rewind of " + describeNode(i) + " from " + describeNode(primary) +
                                 " failed (exit " + std::to_string(rc) + "):\n" + lastLines(readTextFile(rewindLog), 30));
    }
    // Truncating keeps the owner (PostgreSQL's user, since the chown above).
    writeTextFile(dataDir + "/sluice_test.conf", ownConf);
    std::string autoConf;
    std::istringstream lines(ownAutoConf);
    for (std::string line; std::getline(lines, line);) {
        // A restarted old primary had synchronous_standby_names reset; a standby no upstream.
        if (line.rfind("primary_conninfo", 0) == 0 || line.rfind("synchronous_standby_names", 0) == 0) continue;
        autoConf += line + "\n";
    }
    autoConf += "primary_conninfo = " + sqlLiteral(primaryConninfo(primary, i)) + "\n";
    writeTextFile(dataDir + "/postgresql.auto.conf", autoConf);
    writeTextFile(dataDir + "/standby.signal", "");
    chownToDataDirOwner(dataDir);
    restart(i);
    waitStreamingFrom(i, primary);
}

bool PgCluster::waitForValue(int i, const std::string& sql, const std::string& expected,
                             std::chrono::milliseconds timeout, const std::string& db) const {
    const PgServer& server = node(i);
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        QueryResult result = boundedQuery(server, sql, std::max(left, std::chrono::milliseconds(1)), db);
        if (result.ok && result.value() == expected) return true;
        if (Clock::now() + kPollInterval >= deadline) return false;
        std::this_thread::sleep_for(kPollInterval);
    }
}

bool PgCluster::waitStreaming(int i, std::chrono::milliseconds timeout) const {
    return waitForValue(i,
                        "SELECT pg_is_in_recovery() AND EXISTS "
                        "(SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')",
                        "t", timeout);
}

}  // namespace sluice::itest
