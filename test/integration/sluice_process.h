// The Sluice daemon as a child process of a test: its own temp dir, its config file, its output
// captured, every wait bounded, and always stopped and reaped (it also dies with the test
// process, via PR_SET_PDEATHSIG).
//
// Typical use:
//   SluiceProcess sluice;
//   int port = freePort();
//   ASSERT_TRUE(sluice.start(basicIni(sharedPg(), port)));
//   PqConn conn(sluice.conninfo("app", "apppass", "app"));
#pragma once

#include <sys/types.h>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pg_server.h"

namespace sluice::itest {

using namespace std::chrono_literals;

class SluiceProcess {
public:
    // binary: the daemon to run; defaults to $SLUICE_TEST_BINARY if set, else SLUICE_BINARY
    // (the build's daemon). Creates the temp dir at once, so dir() can go into the ini.
    explicit SluiceProcess(std::string binary = defaultBinary());
    ~SluiceProcess();
    SluiceProcess(const SluiceProcess&) = delete;
    SluiceProcess& operator=(const SluiceProcess&) = delete;

    static std::string defaultBinary();

    // Writes iniText to <dir>/pooler.ini ("@DIR@" replaced by dir()) and runs
    // `binary extraArgs... <dir>/pooler.ini`, output to <dir>/sluice.out. If <dir>/userlist.txt
    // does not exist yet, it is written with defaultUserlist(). Waits until the listeners from
    // the ini (listen_addr/listen_port, and the unix socket in unix_socket_dir; only the TCP one
    // for a binary other than the default) accept a connection. Fails, with the output in the message, when the process exits first or
    // nothing listens within timeout (the process is then killed).
    ::testing::AssertionResult start(const std::string& iniText, std::vector<std::string> extraArgs = {},
                                     std::chrono::milliseconds timeout = 10s);

    // An environment variable for the processes start() runs from now on (added to, or
    // replacing one of, the test's own environment); unsetEnv removes one from theirs.
    void setEnv(const std::string& name, const std::string& value);
    void unsetEnv(const std::string& name);

    // Replaces the ini ("@DIR@" replaced as in start()) and sends SIGHUP: the reload a test wants.
    bool reload(const std::string& iniText) const;

    // Writes <dir>/name (e.g. "userlist.txt") and returns its full path.
    std::string writeFile(const std::string& name, const std::string& content) const;

    // SIGTERM (or sig), then SIGKILL after grace; always reaps. Returns the exit code as
    // waitExit does, or nullopt when it was not running.
    std::optional<int> stop(std::chrono::milliseconds grace = 5s, int sig = SIGTERM);
    // Sends a signal (SIGHUP to reload, SIGINT/SIGTERM/SIGQUIT to shut down); false if not running.
    bool signal(int sig) const;
    // Waits for the process to exit by itself: its exit status, or -N when killed by signal N;
    // nullopt if it is still running after timeout.
    std::optional<int> waitExit(std::chrono::milliseconds timeout);
    bool isRunning();

    pid_t pid() const { return pid_; }
    int port() const { return port_; }  // listen_port from the ini (6432 when absent)
    const std::string& dir() const { return dir_; }
    std::string iniPath() const { return dir_ + "/pooler.ini"; }
    // Everything the process wrote to stdout and stderr so far.
    std::string log() const;

    // TCP connection string to this pooler (sslmode=disable).
    std::string conninfo(const std::string& user, const std::string& password, const std::string& db) const;

private:
    ::testing::AssertionResult waitListening(std::chrono::milliseconds timeout);
    ::testing::AssertionResult failStart(const std::string& why);

    std::string binary_;
    std::string dir_;
    pid_t pid_ = -1;
    int port_ = 6432;
    bool listensOnTcp_ = false;
    std::string connectHost_ = "127.0.0.1";
    std::string unixSocketDir_ = "/tmp";
    std::optional<int> exitCode_;
    std::vector<std::pair<std::string, std::optional<std::string>>> env_;  // nullopt: unset
};

// userlist.txt lines for the fixture's roles, with plain passwords (usable for md5 and SCRAM
// client auth, and for the pooler's own login to PostgreSQL).
std::string defaultUserlist();

// A working configuration for `pg`: [databases] `app` and `postgres` (or databasesLines when
// given), and [pooler] listening on 127.0.0.1:listenPort and on a unix socket in @DIR@, md5 auth
// against @DIR@/userlist.txt, session pooling, admin_users = sluice_test. extraPoolerLines go at
// the end of [pooler]; a key they set replaces the default line for that key.
std::string basicIni(const PgServer& pg, int listenPort, const std::string& extraPoolerLines = "",
                     const std::string& databasesLines = "");

}  // namespace sluice::itest
