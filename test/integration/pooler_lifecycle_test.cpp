// The daemon's life: configuration errors (file:line, exit status, --check), SIGHUP reload of
// [databases] and auth_file, and shutdown by SIGTERM (waits for clients), a second SIGTERM and
// SIGQUIT (at once).
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pg_server.h"
#include "server/cpu_count.h"
#include "pq_util.h"
#include "shell_util.h"
#include "sluice_process.h"

namespace sluice::itest {
namespace {

using Clock = std::chrono::steady_clock;

// Runs the daemon with args (each already shell-safe: temp paths and flags), bounded by 10 s.
RunResult runSluice(const std::vector<std::string>& args) {
    std::string command = SluiceProcess::defaultBinary();
    for (const auto& arg : args) command += " '" + arg + "'";
    return run(command, 10);
}

// A temp dir with pooler.ini and userlist.txt, removed at the end of the test.
class ConfigDir {
public:
    ConfigDir() : dir_(makeTempDir("sluice-conf")) { writeTextFile(dir_ + "/userlist.txt", defaultUserlist()); }
    ~ConfigDir() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    ConfigDir(const ConfigDir&) = delete;
    ConfigDir& operator=(const ConfigDir&) = delete;

    std::string writeIni(const std::string& text) const {
        std::string path = dir_ + "/pooler.ini";
        std::string content = text;
        for (auto pos = content.find("@DIR@"); pos != std::string::npos; pos = content.find("@DIR@")) {
            content.replace(pos, 5, dir_);
        }
        writeTextFile(path, content);
        return path;
    }

private:
    std::string dir_;
};

// Waits (bounded) until the log contains `needle`.
bool waitForLog(const SluiceProcess& sluice, const std::string& needle, std::chrono::milliseconds timeout = 5s) {
    for (auto deadline = Clock::now() + timeout; Clock::now() < deadline; std::this_thread::sleep_for(20ms)) {
        if (sluice.log().find(needle) != std::string::npos) return true;
    }
    return sluice.log().find(needle) != std::string::npos;
}

// Line numbers below count from 1 in these texts.
const std::string kBadPortIni =
    "[pooler]\n"               // 1
    "listen_addr = 127.0.0.1\n"  // 2
    "; a comment\n"            // 3
    "listen_port = notanumber\n";  // 4
const std::string kBadPoolModeIni =
    "[pooler]\n"
    "listen_addr = 127.0.0.1\n"
    "pool_mode = bogus\n";  // 3

TEST(PoolerConfig, BadListenPortExitsNonZeroNamingFileAndLine) {
    ConfigDir dir;
    std::string path = dir.writeIni(kBadPortIni);
    auto started = Clock::now();
    RunResult run = runSluice({path});
    EXPECT_NE(run.status, 0) << run.output;
    EXPECT_NE(run.status, 128 + SIGKILL) << "sluice kept running with a bad config";
    EXPECT_LT(elapsedMs(started), 9000);
    EXPECT_NE(run.output.find(path + ":4"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("listen_port"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("notanumber"), std::string::npos) << run.output;
}

TEST(PoolerConfig, BadPoolModeExitsNonZeroNamingFileLineAndTheAllowedValues) {
    ConfigDir dir;
    std::string path = dir.writeIni(kBadPoolModeIni);
    RunResult run = runSluice({path});
    EXPECT_NE(run.status, 0) << run.output;
    EXPECT_NE(run.output.find(path + ":3"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("bogus"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("transaction"), std::string::npos) << "the allowed values: " << run.output;

    // The same through the fixture: the process exits before ever listening.
    SluiceProcess sluice;
    EXPECT_FALSE(sluice.start(kBadPoolModeIni + "listen_port = " + std::to_string(freePort()) + "\n", {}, 5s));
    auto code = sluice.waitExit(0ms);
    ASSERT_TRUE(code.has_value());
    EXPECT_NE(*code, 0);
    EXPECT_NE(sluice.log().find(sluice.iniPath() + ":3"), std::string::npos) << sluice.log();
}

TEST(PoolerConfig, CheckAcceptsAGoodFileAndRejectsABadOneWithFileAndLine) {
    ConfigDir dir;
    std::string good = dir.writeIni(basicIni(sharedPg(), freePort()));
    RunResult ok = runSluice({"--check", good});
    EXPECT_EQ(ok.status, 0) << ok.output;

    std::string bad = dir.writeIni(kBadPortIni);
    RunResult refused = runSluice({"--check", bad});
    EXPECT_NE(refused.status, 0) << refused.output;
    EXPECT_NE(refused.status, 128 + SIGKILL) << "--check must not start the daemon";
    EXPECT_NE(refused.output.find(bad + ":4"), std::string::npos) << refused.output;

    // A bad [databases] entry is an error with its line too.
    std::string badDb = dir.writeIni("[databases]\nok = host=127.0.0.1 port=5432\nbroken = host=127.0.0.1 port=x\n"
                                     "[pooler]\nlisten_port = 7000\nauth_type = trust\n");
    RunResult dbRun = runSluice({"--check", badDb});
    EXPECT_NE(dbRun.status, 0) << dbRun.output;
    EXPECT_NE(dbRun.output.find(badDb + ":3"), std::string::npos) << dbRun.output;
}

TEST(PoolerConfig, UnknownKeyOnlyWarnsWithFileAndLine) {
    PgServer& pg = sharedPg();
    ConfigDir dir;
    std::string ini = basicIni(pg, freePort(), "no_such_setting_sluice = 1\n");
    std::string path = dir.writeIni(ini);
    // The line of the unknown key in the generated text.
    int line = 1;
    for (std::size_t i = 0; i < ini.find("no_such_setting_sluice"); ++i) line += ini[i] == '\n';
    RunResult check = runSluice({"--check", path});
    EXPECT_EQ(check.status, 0) << check.output;
    EXPECT_NE(check.output.find(path + ":" + std::to_string(line)), std::string::npos) << check.output;
    EXPECT_NE(check.output.find("no_such_setting_sluice"), std::string::npos) << check.output;

    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(ini));
    PqConn conn(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(conn.isOk()) << conn.error();
    EXPECT_NE(sluice.log().find("no_such_setting_sluice"), std::string::npos) << sluice.log();
}

TEST(PoolerReload, SighupPicksUpAChangedDatabaseEntry) {
    PgServer& pg = sharedPg();
    const std::string server = "host=127.0.0.1 port=" + std::to_string(pg.port());
    const int port = freePort();
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(pg, port, "", "aliasdb = " + server + " dbname=postgres\n")));
    {
        PqConn before(sluice.conninfo("app", "apppass", "aliasdb"));
        ASSERT_TRUE(before.isOk()) << before.error();
        EXPECT_EQ(before.exec("SELECT current_database()").value(), "postgres");
    }  // its server goes back to the pool (session mode), still logged in to "postgres"

    ASSERT_TRUE(sluice.reload(basicIni(pg, port, "", "aliasdb = " + server + " dbname=app\n")));
    ASSERT_TRUE(waitForLog(sluice, "SIGHUP")) << sluice.log();
    // The new snapshot reaches the workers asynchronously, through their loops: a moment is plenty.
    std::this_thread::sleep_for(300ms);
    for (int i = 0; i < 3; ++i) {
        PqConn after(sluice.conninfo("app", "apppass", "aliasdb"));
        ASSERT_TRUE(after.isOk()) << after.error() << "\n" << lastLines(sluice.log(), 20);
        EXPECT_EQ(after.exec("SELECT current_database()").value(), "app")
            << "client " << i << " after SIGHUP still reached the old database (a pooled server for the old "
            << "target was reused?)\n"
            << lastLines(sluice.log(), 30);
    }
    EXPECT_TRUE(sluice.isRunning());
}

// The server a client still holds during the reload must not serve the new target when
// that client leaves.
TEST(PoolerReload, ServerReleasedAfterTheReloadIsNotReusedForTheNewTarget) {
    PgServer& pg = sharedPg();
    const std::string server = "host=127.0.0.1 port=" + std::to_string(pg.port());
    const int port = freePort();
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(pg, port, "default_pool_size = 1\n", "aliasdb = " + server + " dbname=postgres\n")));
    auto holder = std::make_unique<PqConn>(sluice.conninfo("app", "apppass", "aliasdb"));
    ASSERT_TRUE(holder->isOk()) << holder->error();
    ASSERT_EQ(holder->exec("SELECT current_database()").value(), "postgres");

    ASSERT_TRUE(sluice.reload(basicIni(pg, port, "default_pool_size = 1\n", "aliasdb = " + server + " dbname=app\n")));
    ASSERT_TRUE(waitForLog(sluice, "SIGHUP")) << sluice.log();
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(holder->exec("SELECT current_database()").value(), "postgres") << "a live session keeps its server";
    holder.reset();

    PqConn next(sluice.conninfo("app", "apppass", "aliasdb"));
    ASSERT_TRUE(next.isOk()) << next.error() << "\n" << lastLines(sluice.log(), 20);
    EXPECT_EQ(next.exec("SELECT current_database()").value(), "app")
        << "the server released after the reload (logged in to the old database) was reused\n"
        << lastLines(sluice.log(), 30);
}

TEST(PoolerReload, SighupWithABrokenFileKeepsTheOldConfigurationAndServes) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort())));
    writeTextFile(sluice.iniPath(), readTextFile(sluice.iniPath()) + "pool_mode = bogus\n");
    ASSERT_TRUE(sluice.signal(SIGHUP));
    ASSERT_TRUE(waitForLog(sluice, "bogus")) << sluice.log();
    EXPECT_TRUE(sluice.isRunning());
    PqConn conn(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(conn.isOk()) << conn.error();
    EXPECT_EQ(conn.exec("SELECT 1").value(), "1");
}

TEST(PoolerReload, SighupReloadsTheAuthFile) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    // Servers are reached over PostgreSQL's trusted unix socket, so only the client password changes.
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(), "",
                                      "app = host=" + pg.socketDir() + " port=" + std::to_string(pg.port()) +
                                          " dbname=app\n")));
    ASSERT_TRUE(PqConn(sluice.conninfo("app", "apppass", "app")).isOk());
    sluice.writeFile("userlist.txt", "\"app\" \"rotated\"\n");
    ASSERT_TRUE(sluice.signal(SIGHUP));
    ASSERT_TRUE(waitForLog(sluice, "SIGHUP")) << sluice.log();
    bool rotated = false;
    for (auto deadline = Clock::now() + 3s; !rotated && Clock::now() < deadline; std::this_thread::sleep_for(50ms)) {
        rotated = PqConn(sluice.conninfo("app", "rotated", "app")).isOk();
    }
    EXPECT_TRUE(rotated) << lastLines(sluice.log(), 20);
    PqConn old(sluice.conninfo("app", "apppass", "app"));
    EXPECT_EQ(old.sqlstate(), "08P01") << old.error();
}

// With no workers line Sluice uses every CPU it may (workers = auto): as many workers as the
// affinity mask and any cgroup CPU quota allow, and a client is served by one of them.
TEST(PoolerLifecycle, TheDefaultIsAWorkerPerAvailableCpu) {
    std::string ini = basicIni(sharedPg(), freePort());
    const size_t line = ini.find("workers = 1\n");
    ASSERT_NE(line, std::string::npos) << ini;
    ini.erase(line, std::string("workers = 1\n").size());
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(ini));
    const int cpus = server::availableCpus();
    EXPECT_NE(sluice.log().find(", " + std::to_string(cpus) + " worker(s)"), std::string::npos) << sluice.log();
    PqConn client(sluice.conninfo("app", "apppass", "app"));
    EXPECT_EQ(client.exec("SELECT 'served'").value(), "served") << client.error();
}

TEST(PoolerShutdown, SigtermWithNoClientsExitsZeroQuickly) {
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort())));
    {
        PqConn conn(sluice.conninfo("app", "apppass", "app"));  // leaves an idle server in the pool
        ASSERT_TRUE(conn.exec("SELECT 1").ok);
    }
    std::this_thread::sleep_for(100ms);  // let Sluice see the client leave
    auto started = Clock::now();
    ASSERT_TRUE(sluice.signal(SIGTERM));
    auto code = sluice.waitExit(5s);
    ASSERT_TRUE(code.has_value()) << "still running 5 s after SIGTERM with no clients\n" << sluice.log();
    EXPECT_EQ(*code, 0) << sluice.log();
    EXPECT_LT(elapsedMs(started), 5000);
}

TEST(PoolerShutdown, SigtermWaitsForTheConnectedClientAndRefusesNewOnes) {
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort())));
    auto conn = std::make_unique<PqConn>(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(conn->isOk()) << conn->error();
    ASSERT_TRUE(conn->exec("SELECT 1").ok);
    ASSERT_TRUE(sluice.signal(SIGTERM));
    ASSERT_TRUE(waitForLog(sluice, "SIGTERM")) << sluice.log();
    std::this_thread::sleep_for(200ms);  // let the workers close their listeners

    QueryResult during = conn->exec("SELECT 'still served'");
    EXPECT_TRUE(during.ok) << during.describe() << "\n" << lastLines(sluice.log(), 20);
    EXPECT_EQ(during.value(), "still served");
    PqConn late(sluice.conninfo("app", "apppass", "app"), 5s);
    EXPECT_FALSE(late.isOk()) << "a new client was accepted during shutdown";
    EXPECT_FALSE(sluice.waitExit(300ms).has_value()) << "exited with a client still connected\n" << sluice.log();
    EXPECT_TRUE(conn->exec("SELECT 2").ok);

    conn.reset();  // the last client leaves
    auto code = sluice.waitExit(5s);
    ASSERT_TRUE(code.has_value()) << "did not exit after the last client left\n" << sluice.log();
    EXPECT_EQ(*code, 0) << sluice.log();
}

TEST(PoolerShutdown, SecondSigtermEscalatesToImmediateExit) {
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort())));
    PqConn conn(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(conn.isOk()) << conn.error();
    ASSERT_TRUE(sluice.signal(SIGTERM));
    ASSERT_TRUE(waitForLog(sluice, "SIGTERM")) << sluice.log();
    ASSERT_TRUE(sluice.signal(SIGTERM));
    auto code = sluice.waitExit(5s);
    ASSERT_TRUE(code.has_value()) << "a second SIGTERM did not make Sluice exit\n" << sluice.log();
    EXPECT_FALSE(conn.exec("SELECT 1", 5s).ok);
}

TEST(PoolerShutdown, SigquitExitsAtOnceEvenWithClients) {
    SluiceProcess sluice;
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort())));
    PqConn conn(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(conn.isOk()) << conn.error();
    ASSERT_TRUE(conn.send("SELECT pg_sleep(5)"));
    std::this_thread::sleep_for(100ms);
    auto started = Clock::now();
    ASSERT_TRUE(sluice.signal(SIGQUIT));
    auto code = sluice.waitExit(3s);
    ASSERT_TRUE(code.has_value()) << "still running 3 s after SIGQUIT\n" << sluice.log();
    EXPECT_LT(elapsedMs(started), 3000);
    EXPECT_FALSE(conn.collect(5s).ok);  // its connection went away with the pooler
}

}  // namespace
}  // namespace sluice::itest
