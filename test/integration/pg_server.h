// A real, throwaway PostgreSQL for integration tests: initdb into a temp dir, a free TCP port on
// 127.0.0.1, the unix socket in the temp dir. As root it runs as an unprivileged user
// (`postgres`, else a `sluice-test` system user it creates), since PostgreSQL refuses root.
//
// Roles and databases it creates:
//   sluice_test / secret   superuser (initdb's bootstrap user)
//   app / apppass          ordinary login role, owner of database `app`
// The unix socket trusts everyone; TCP uses PgServerOptions::tcpAuth. Passwords are stored as
// md5 when tcpAuth is "md5" (else PostgreSQL would silently do SCRAM), SCRAM otherwise.
//
// If the test process dies without stopping the server (crash, sanitizer abort, SIGKILL), a
// watchdog process stops it and removes its directory.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "pq_util.h"

namespace sluice::itest {

struct PgServerOptions {
    std::string tcpAuth = "scram-sha-256";  // pg_hba method for 127.0.0.1: trust | password | md5 | scram-sha-256
    std::vector<std::string> extraConf;     // extra postgresql.conf lines, e.g. "log_connections = on"
    std::vector<std::string> extraHba;      // extra pg_hba.conf lines, after the fixture's own
    std::vector<std::string> leadingHba;    // pg_hba.conf lines before the fixture's own (they win)
    int maxConnections = 100;
    // When set: ssl = on with this certificate and key (copied into the data directory and
    // given to the server's user, as PostgreSQL demands).
    std::string tlsCertFile, tlsKeyFile;
    // Where the server's temp dir (data, socket, logs) is made.
    std::string tempParent = "/tmp";
};

class PgServer {
public:
    static constexpr const char* kSuperuser = "sluice_test";
    static constexpr const char* kSuperPassword = "secret";
    static constexpr const char* kAppUser = "app";
    static constexpr const char* kAppPassword = "apppass";
    static constexpr const char* kAppDatabase = "app";

    PgServer() = default;
    ~PgServer();
    PgServer(const PgServer&) = delete;
    PgServer& operator=(const PgServer&) = delete;

    // initdb, start, create the roles above. Throws std::runtime_error (with the server's log)
    // on failure. Call once per object.
    void start(const PgServerOptions& options = {});
    // Instead of start(): a streaming standby of `primary` (pg_basebackup -R over its unix
    // socket, which needs a "local replication ..." line in the primary's pg_hba.conf) in a
    // new temp dir, on its own port; roles, databases and pg_hba.conf come with the copy
    // (options.extraHba is not used). Returns once pg_ctl reports it accepting connections
    // (hot standby), not necessarily streaming yet.
    void startStandby(const PgServer& primary, const PgServerOptions& options = {});
    // Fast shutdown; the data directory is kept, so restart() brings the same server back on
    // the same port (for tests of a pooler whose server goes away).
    void stop();
    // Immediate shutdown (pg_ctl stop -m immediate): a crash, recovered at the next start.
    void stopImmediate();
    // Stops (fast) if running, then starts again; on a stopped server it only starts.
    void restart();
    bool isRunning() const { return running_; }

    std::string host() const { return "127.0.0.1"; }
    int port() const { return port_; }
    const std::string& socketDir() const { return baseDir_; }
    const std::string& dataDir() const { return dataDir_; }
    // PostgreSQL's programs (pgbench, psql, …) of the version running.
    const std::string& bindir() const { return bindir_; }
    const PgServerOptions& options() const { return options_; }
    std::string superuser() const { return kSuperuser; }
    std::string superPassword() const { return kSuperPassword; }

    // Direct connection strings (bypassing any pooler).
    std::string tcpConninfo(const std::string& user, const std::string& password, const std::string& db) const;
    std::string socketConninfo(const std::string& db = "postgres", const std::string& user = kSuperuser) const;

    // As the superuser over the unix socket. query1 returns the first column of the first row
    // ("" when there is no row); both throw std::runtime_error on an SQL error.
    std::string query1(const std::string& sql, const std::string& db = "postgres") const;
    void exec(const std::string& sql, const std::string& db = "postgres") const;
    // Backends connected to db (optionally only user's), not counting the one asking.
    int backendCount(const std::string& db, const std::string& user = "") const;

    std::string logContents() const;
    // The postmaster's pid from postmaster.pid; -1 when there is none (stopped).
    pid_t postmasterPid() const;

private:
    // The temp dir (owned by the server's user), data dir and log path of a new server.
    void makeBaseDir();
    void writeConf() const;
    void installTlsFiles();
    void launchOnFreePort();
    void stopWithMode(const char* mode);
    bool launch(std::string& failure);
    void createRoles();
    void startWatchdog();
    void stopWatchdog();

    PgServerOptions options_;
    std::string bindir_;
    std::string baseDir_;
    std::string dataDir_;
    std::string logPath_;
    int port_ = 0;
    bool running_ = false;
    pid_t watchdogPid_ = -1;
    int watchdogFd_ = -1;
};

// One server per test binary, started on first use with default options and stopped at exit.
// If it could not start, every call throws the same error (without retrying initdb).
// Tests that stop or reconfigure PostgreSQL must use their own PgServer instead.
PgServer& sharedPg();

// A single-quoted SQL (and postgresql.conf) literal.
std::string sqlLiteral(const std::string& text);
// A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it) and that
// this process has not handed out before.
int freePort();
// mkdtemp under parent (/tmp unless told); prefix like "sluice-pg". Throws on failure.
std::string makeTempDir(const std::string& prefix, const std::string& parent = "/tmp");
// Whole file, or "" when it cannot be read.
std::string readTextFile(const std::string& path);
// The last n lines of text (all of it when shorter), for failure messages.
std::string lastLines(const std::string& text, std::size_t n);
// How many times `needle` occurs in `text` (a log line that must appear exactly once…).
std::size_t countOf(const std::string& text, const std::string& needle);
// Writes (truncates) a file; throws on failure.
void writeTextFile(const std::string& path, const std::string& content);
// Runs a PostgreSQL program (args[0] a full path) as the user PostgreSQL runs as, in cwd,
// stdout and stderr appended to outputPath; returns its exit status (128 + signal if killed).
int runPgProgram(const std::vector<std::string>& args, const std::string& cwd, const std::string& outputPath);

}  // namespace sluice::itest
