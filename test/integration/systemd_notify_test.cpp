// Type=notify without systemd: the test makes the datagram socket $NOTIFY_SOCKET names and reads
// what the daemon says on it — READY=1 once it accepts, RELOADING=1 ... READY=1 around a SIGHUP
// reload, STOPPING=1 on SIGTERM/SIGINT, STATUS= with the client count, WATCHDOG=1 when asked.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

#include "pg_server.h"
#include "pq_util.h"
#include "sluice_process.h"

namespace sluice::itest {
namespace {

using namespace std::chrono_literals;

// A bound AF_UNIX datagram socket: at a path, or abstract when the name starts with '@'.
class NotifySocket {
public:
    explicit NotifySocket(const std::string& name) : name_(name) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, name.data(), name.size());
        if (name.front() == '@') addr.sun_path[0] = '\0';
        const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() +
                                                   (name.front() == '@' ? 0 : 1));
        bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), length) == 0;
    }
    ~NotifySocket() {
        if (fd_ >= 0) ::close(fd_);
        if (!name_.empty() && name_.front() == '/') ::unlink(name_.c_str());
    }
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    bool bound() const { return bound_; }

    // Reads datagrams until one has a line starting with `line` or `limit` passes; everything
    // read is kept in received().
    bool waitFor(const std::string& line, std::chrono::milliseconds limit = 15s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        for (;;) {
            for (size_t i = seen_; i < messages_.size(); ++i) {
                if (hasLine(messages_[i], line)) {
                    seen_ = i + 1;
                    return true;
                }
            }
            seen_ = messages_.size();
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left <= 0ms) return false;
            pollfd pfd{fd_, POLLIN, 0};
            if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
            char buffer[4096];
            const ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n > 0) messages_.emplace_back(buffer, static_cast<size_t>(n));
        }
    }

    std::string received() const {
        std::string all;
        for (const auto& message : messages_) all += "[" + message + "]\n";
        return all;
    }

private:
    // `line` starts one of the message's lines.
    static bool hasLine(const std::string& message, const std::string& line) {
        return ("\n" + message).find("\n" + line) != std::string::npos;
    }

    std::string name_;
    int fd_ = -1;
    bool bound_ = false;
    std::vector<std::string> messages_;
    size_t seen_ = 0;
};

TEST(SystemdNotify, ReadyReloadingStoppingOnAPathSocket) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    NotifySocket notify(sluice.dir() + "/notify.sock");
    ASSERT_TRUE(notify.bound()) << std::strerror(errno);
    sluice.setEnv("NOTIFY_SOCKET", sluice.dir() + "/notify.sock");
    const std::string ini = basicIni(pg, freePort());
    ASSERT_TRUE(sluice.start(ini));
    ASSERT_TRUE(notify.waitFor("READY=1")) << notify.received() << lastLines(sluice.log(), 20);

    // The order matters: RELOADING=1 first, READY=1 when the reload is over.
    ASSERT_TRUE(sluice.reload(ini));
    ASSERT_TRUE(notify.waitFor("RELOADING=1")) << notify.received() << lastLines(sluice.log(), 20);
    EXPECT_NE(notify.received().find("MONOTONIC_USEC="), std::string::npos) << notify.received();
    ASSERT_TRUE(notify.waitFor("READY=1")) << notify.received() << lastLines(sluice.log(), 20);

    // A client stays connected: STATUS= (sent every 2 s when it changes) counts it.
    PqConn client(sluice.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(client.isOk()) << client.error();
    EXPECT_TRUE(notify.waitFor("STATUS=ready: 1 client,")) << notify.received();

    ASSERT_TRUE(sluice.signal(SIGTERM));
    ASSERT_TRUE(notify.waitFor("STOPPING=1")) << notify.received() << lastLines(sluice.log(), 20);
    client.close();
    EXPECT_EQ(sluice.waitExit(15s), 0) << lastLines(sluice.log(), 20);
}

TEST(SystemdNotify, AbstractSocketWatchdogAndSigint) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    const std::string name = "@sluice-itest-notify-" + std::to_string(getpid()) + "-" + std::to_string(freePort());
    NotifySocket notify(name);
    ASSERT_TRUE(notify.bound()) << std::strerror(errno);
    sluice.setEnv("NOTIFY_SOCKET", name);
    sluice.setEnv("WATCHDOG_USEC", "400000");  // WATCHDOG=1 every 200 ms
    sluice.unsetEnv("WATCHDOG_PID");
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort())));
    ASSERT_TRUE(notify.waitFor("READY=1")) << notify.received() << lastLines(sluice.log(), 20);
    ASSERT_TRUE(notify.waitFor("WATCHDOG=1")) << notify.received() << lastLines(sluice.log(), 20);
    ASSERT_TRUE(notify.waitFor("WATCHDOG=1")) << notify.received() << lastLines(sluice.log(), 20);
    ASSERT_TRUE(sluice.signal(SIGINT));
    ASSERT_TRUE(notify.waitFor("STOPPING=1")) << notify.received() << lastLines(sluice.log(), 20);
    EXPECT_EQ(sluice.waitExit(15s), 0) << lastLines(sluice.log(), 20);
}

TEST(SystemdNotify, AnotherProcessesWatchdogIsNotFed) {
    PgServer& pg = sharedPg();
    SluiceProcess sluice;
    const std::string name = "@sluice-itest-notify2-" + std::to_string(getpid()) + "-" + std::to_string(freePort());
    NotifySocket notify(name);
    ASSERT_TRUE(notify.bound()) << std::strerror(errno);
    sluice.setEnv("NOTIFY_SOCKET", name);
    sluice.setEnv("WATCHDOG_USEC", "200000");
    sluice.setEnv("WATCHDOG_PID", "1");  // not the daemon's pid
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort())));
    ASSERT_TRUE(notify.waitFor("READY=1")) << notify.received() << lastLines(sluice.log(), 20);
    // Ten watchdog periods: nothing may come (a negative check needs some wait).
    EXPECT_FALSE(notify.waitFor("WATCHDOG=1", 1s)) << notify.received();
    sluice.stop();
}

}  // namespace
}  // namespace sluice::itest
