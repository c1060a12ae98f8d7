// systemd socket activation (packaging/systemd/sluice.socket): Sluice listens on the sockets
// passed as LISTEN_FDS instead of opening its own. systemd-socket-activate plays systemd here:
// it binds, waits for the first connection, and execs Sluice with the sockets as fds 3, 4.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include "sluice_process.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

constexpr const char* kActivator = "/usr/bin/systemd-socket-activate";

TEST(SocketActivation, TwoWorkersServeOnThePassedSocketsAndNothingElse) {
    if (::access(kActivator, X_OK) != 0) GTEST_SKIP() << kActivator << " is missing (Debian package systemd)";
    ASSERT_TRUE(clearAppBackends());
    SluiceProcess sluice(kActivator);
    const int port = freePort();
    // The ini's unix socket directory is another one: Sluice must not open a socket there.
    const std::string ownDir = sluice.dir() + "/own";
    ASSERT_EQ(::mkdir(ownDir.c_str(), 0700), 0);
    const std::string passedUnix = sluice.dir() + "/.s.PGSQL." + std::to_string(port);
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), port, "workers = 2\npool_mode = transaction\nunix_socket_dir = " + ownDir + "\n"),
                             {"-l", "127.0.0.1:" + std::to_string(port), "-l", passedUnix,
                              SluiceProcess::defaultBinary()}));
    // The activator accepts before Sluice runs: the first connection is what starts it.
    const std::string tcp = "host=127.0.0.1 port=" + std::to_string(port) +
                            " user=app password=apppass dbname=app connect_timeout=10";
    ASSERT_TRUE(waitUntil([&] { return PqConn(tcp).isOk(); }, 10s)) << lastLines(sluice.log(), 10);
    EXPECT_NE(sluice.log().find("socket activation: 2 socket(s) passed by systemd"), std::string::npos)
        << lastLines(sluice.log(), 10);

    std::vector<PqConn> clients;
    for (int i = 0; i < 6; ++i) {  // enough that both workers accept some
        clients.emplace_back(tcp);
        EXPECT_EQ(clients.back().exec("SELECT 'over tcp'").value(), "over tcp") << clients.back().error();
    }
    PqConn overUnix("host=" + sluice.dir() + " port=" + std::to_string(port) +
                    " user=app password=apppass dbname=app connect_timeout=10");
    EXPECT_EQ(overUnix.exec("SELECT 'over unix'").value(), "over unix") << overUnix.error();
    EXPECT_NE(::access((ownDir + "/.s.PGSQL." + std::to_string(port)).c_str(), F_OK), 0)
        << "unix_socket_dir was listened on although systemd passed sockets";
}

// LISTEN_FDS meant for another process (LISTEN_PID) is ignored, as sd_listen_fds does.
TEST(SocketActivation, SocketsMeantForAnotherProcessAreIgnored) {
    SluiceProcess sluice;
    sluice.setEnv("LISTEN_FDS", "1");
    sluice.setEnv("LISTEN_PID", "1");
    ASSERT_TRUE(sluice.start(basicIni(sharedPg(), freePort())));
    PqConn client(sluice.conninfo("app", "apppass", "app"));
    EXPECT_EQ(client.exec("SELECT 'own listener'").value(), "own listener") << client.error();
    EXPECT_EQ(sluice.log().find("socket activation"), std::string::npos) << lastLines(sluice.log(), 10);
}

}  // namespace
}  // namespace sluice::itest
