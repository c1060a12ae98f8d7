// SLUICE_<SETTING> environment overrides in the running daemon (SHOW CONFIG shows them, a reload
// keeps them over the file, a bad value stops the start with the variable named), and the
// configuration warnings reaching the log file, in the foreground and with -d.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"

namespace sluice::itest {
namespace {

using namespace std::chrono_literals;

template <class Fn>
bool eventually(Fn condition, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return condition();
}

std::string readFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string configValue(PqConn& console, const std::string& key) {
    QueryResult config = console.exec("SHOW CONFIG", 5s);
    if (!config.ok) return "error: " + config.describe();
    for (const auto& row : config.rows)
        if (!row.empty() && row[0] == key) return row.size() > 1 ? row[1] : "<short row>";
    return "<missing>";
}

PqConn adminConsole(const SluiceProcess& sluice) {
    return PqConn(sluice.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"), 5s);
}

TEST(EnvOverrides, ShownBySHOWCONFIGAndKeptOverTheFileOnReload) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    sluice.setEnv("SLUICE_DEFAULT_POOL_SIZE", "20");
    sluice.setEnv("SLUICE_POOL_MODE", "transaction");
    const int port = freePort();
    ASSERT_TRUE(sluice.start(basicIni(pg, port, "default_pool_size = 4\nquery_wait_timeout = 30\n")));
    PqConn console = adminConsole(sluice);
    ASSERT_TRUE(console.isOk()) << console.error();
    EXPECT_EQ(configValue(console, "default_pool_size"), "20");
    EXPECT_EQ(configValue(console, "pool_mode"), "transaction");
    EXPECT_NE(sluice.log().find("SLUICE_DEFAULT_POOL_SIZE overrides setting default_pool_size"), std::string::npos)
        << lastLines(sluice.log(), 20);

    // The file changes both; the environment still wins for its setting, the file for the other.
    ASSERT_TRUE(sluice.reload(basicIni(pg, port, "default_pool_size = 7\nquery_wait_timeout = 40\n")));
    EXPECT_TRUE(eventually([&] { return configValue(console, "query_wait_timeout") == "40"; }))
        << configValue(console, "query_wait_timeout") << "\n" << lastLines(sluice.log(), 20);
    EXPECT_EQ(configValue(console, "default_pool_size"), "20");
    PqConn app(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(app.isOk()) << app.error();
    EXPECT_EQ(app.exec("SELECT 5", 5s).value(), "5");
}

TEST(EnvOverrides, BadValueStopsTheStartNamingTheVariable) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    sluice.setEnv("SLUICE_DEFAULT_POOL_SIZE", "lots");
    EXPECT_FALSE(sluice.start(basicIni(pg, freePort()), {}, 5s));
    EXPECT_EQ(sluice.waitExit(5s), 1);
    const std::string log = sluice.log();
    EXPECT_NE(log.find("environment variable SLUICE_DEFAULT_POOL_SIZE"), std::string::npos) << log;
    EXPECT_NE(log.find("invalid value 'lots' for setting 'default_pool_size'"), std::string::npos) << log;

    // --check says the same and fails.
    const std::string command = "SLUICE_MAX_CLIENT_CONN=-3 " + SluiceProcess::defaultBinary() + " --check '" +
                                sluice.iniPath() + "' > '" + sluice.dir() + "/check.out' 2>&1";
    const int status = std::system(command.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
    EXPECT_NE(readFile(sluice.dir() + "/check.out").find("environment variable SLUICE_MAX_CLIENT_CONN"),
              std::string::npos)
        << readFile(sluice.dir() + "/check.out");
}

TEST(EnvOverrides, KeptAcrossRepeatedReloadsOfARestartOnlySetting) {
    // listen_backlog is restart-only: were the override lost on reload, the reload would warn
    // that it "cannot be changed by a reload".
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    sluice.setEnv("SLUICE_LISTEN_BACKLOG", "77");
    const int port = freePort();
    const std::string ini = basicIni(pg, port);
    ASSERT_TRUE(sluice.start(ini));
    ASSERT_TRUE(sluice.reload(ini));
    ASSERT_TRUE(sluice.reload(ini));
    PqConn console = adminConsole(sluice);
    ASSERT_TRUE(console.isOk()) << console.error();
    EXPECT_EQ(configValue(console, "listen_backlog"), "77");
    EXPECT_EQ(sluice.log().find("cannot be changed by a reload"), std::string::npos) << lastLines(sluice.log(), 20);
}

const char* kWarnedLines = "bogus_setting = 1\ndns_max_ttl = 30\n";

void expectWarnings(const std::string& text) {
    EXPECT_NE(text.find("unknown setting 'bogus_setting'"), std::string::npos) << text;
    EXPECT_NE(text.find("setting dns_max_ttl is not supported yet"), std::string::npos) << text;
    EXPECT_NE(text.find("SLUICE_NOT_A_SETTING names no setting"), std::string::npos) << text;
}

TEST(ConfigWarnings, GoToTheLogFile) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    sluice.setEnv("SLUICE_NOT_A_SETTING", "1");
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(), std::string(kWarnedLines) + "logfile = @DIR@/pooler.log\n")));
    EXPECT_TRUE(eventually([&] { return readFile(sluice.dir() + "/pooler.log").find("process up") != std::string::npos; }));
    expectWarnings(readFile(sluice.dir() + "/pooler.log"));
    expectWarnings(sluice.log());  // and stderr still
}

bool alive(pid_t pid) {
    // A daemon's zombie may linger where nothing reaps orphans: it counts as gone.
    const std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
    if (stat.empty()) return false;
    const size_t close = stat.rfind(')');
    return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
}

TEST(ConfigWarnings, GoToTheLogFileOfADaemon) {
    PgServer& pg = sharedPg();
    SluiceProcess paths;  // only for its temp dir, ini and userlist
    const std::string ini = basicIni(pg, freePort(),
                                     std::string(kWarnedLines) + "logfile = @DIR@/pooler.log\npidfile = @DIR@/pooler.pid\n");
    std::string text = ini;
    for (auto pos = text.find("@DIR@"); pos != std::string::npos; pos = text.find("@DIR@"))
        text.replace(pos, 5, paths.dir());
    paths.writeFile("pooler.ini", text);
    paths.writeFile("userlist.txt", defaultUserlist());
    const std::string command = "SLUICE_NOT_A_SETTING=1 " + SluiceProcess::defaultBinary() + " -d '" +
                                paths.iniPath() + "' > '" + paths.dir() + "/start.out' 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << readFile(paths.dir() + "/start.out");
    pid_t pid = 0;
    ASSERT_TRUE(eventually([&] {
        pid = static_cast<pid_t>(std::atol(readFile(paths.dir() + "/pooler.pid").c_str()));
        return pid > 0 && readFile(paths.dir() + "/pooler.log").find("process up") != std::string::npos;
    })) << readFile(paths.dir() + "/start.out") << readFile(paths.dir() + "/pooler.log");
    const std::string log = readFile(paths.dir() + "/pooler.log");
    ::kill(pid, SIGQUIT);
    EXPECT_TRUE(eventually([&] { return !alive(pid); })) << "daemon " << pid << " did not stop";
    expectWarnings(log);
    // The terminal that started it saw them too.
    expectWarnings(readFile(paths.dir() + "/start.out"));
}

}  // namespace
}  // namespace sluice::itest
