// sd_notify's datagram protocol without libsystemd: the address, the watchdog period, the
// messages, and one round trip through a socket this test makes.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "server/systemd_notify.h"

namespace sluice::server {
namespace {

using std::chrono::microseconds;

TEST(SystemdNotify, PathAndAbstractAddresses) {
    auto path = parseNotifySocket("/run/systemd/notify");
    ASSERT_TRUE(path) << path.error().message;
    EXPECT_STREQ(path->addr.sun_path, "/run/systemd/notify");
    EXPECT_EQ(path->length, offsetof(sockaddr_un, sun_path) + std::strlen("/run/systemd/notify") + 1);

    auto abstract = parseNotifySocket("@sluice/notify");
    ASSERT_TRUE(abstract) << abstract.error().message;
    EXPECT_EQ(abstract->addr.sun_path[0], '\0');
    EXPECT_EQ(std::string(abstract->addr.sun_path + 1, 13), "sluice/notify");
    // No terminator counts for an abstract name: its length is exactly the name's.
    EXPECT_EQ(abstract->length, offsetof(sockaddr_un, sun_path) + std::strlen("@sluice/notify"));
}

TEST(SystemdNotify, BadAddressesAreRefused) {
    EXPECT_FALSE(parseNotifySocket(""));
    EXPECT_FALSE(parseNotifySocket("relative/notify"));
    EXPECT_FALSE(parseNotifySocket("vsock:2:1234"));
    EXPECT_FALSE(parseNotifySocket("/" + std::string(sizeof(sockaddr_un::sun_path), 'x')));
    // An abstract name may fill sun_path entirely; a path needs room for its NUL.
    EXPECT_TRUE(parseNotifySocket("@" + std::string(sizeof(sockaddr_un::sun_path) - 1, 'x')));
    EXPECT_FALSE(parseNotifySocket("/" + std::string(sizeof(sockaddr_un::sun_path) - 1, 'x')));
}

TEST(SystemdNotify, WatchdogPeriodIsHalfTheIntervalForThisProcess) {
    EXPECT_EQ(watchdogPeriod("30000000", nullptr, 42), microseconds(15000000));
    EXPECT_EQ(watchdogPeriod("30000000", "", 42), microseconds(15000000));
    EXPECT_EQ(watchdogPeriod("30000000", "42", 42), microseconds(15000000));
    EXPECT_EQ(watchdogPeriod("30000000", "43", 42), std::nullopt);  // another process's watchdog
    EXPECT_EQ(watchdogPeriod(nullptr, nullptr, 42), std::nullopt);
    EXPECT_EQ(watchdogPeriod("", nullptr, 42), std::nullopt);
    EXPECT_EQ(watchdogPeriod("0", nullptr, 42), std::nullopt);
    EXPECT_EQ(watchdogPeriod("12x", nullptr, 42), std::nullopt);
    EXPECT_EQ(watchdogPeriod("-5", nullptr, 42), std::nullopt);
    EXPECT_EQ(watchdogPeriod("1", nullptr, 42), microseconds(1));
}

TEST(SystemdNotify, Messages) {
    EXPECT_EQ(readyMessage("ready: 0 clients"), "READY=1\nSTATUS=ready: 0 clients\n");
    EXPECT_EQ(reloadingMessage(123456789), "RELOADING=1\nMONOTONIC_USEC=123456789\nSTATUS=reloading the configuration\n");
    EXPECT_EQ(stoppingMessage("stopping: 2 clients"), "STOPPING=1\nSTATUS=stopping: 2 clients\n");
    EXPECT_EQ(statusMessage("x"), "STATUS=x\n");
    EXPECT_EQ(statusText(1, 3, 2, "ready"), "ready: 1 client, 3 servers (2 active)");
    EXPECT_EQ(statusText(0, 1, 0, "stopping"), "stopping: 0 clients, 1 server (0 active)");
}

class ScopedEnv {
public:
    ScopedEnv(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        ::setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (old_) ::setenv(name_, old_->c_str(), 1);
        else ::unsetenv(name_);
    }

private:
    const char* name_;
    std::optional<std::string> old_;
};

std::string receive(int fd) {
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
}

TEST(SystemdNotify, SendsDatagramsToAnAbstractSocket) {
    const std::string name = "@sluice-unit-" + std::to_string(getpid());
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    auto address = parseNotifySocket(name);
    ASSERT_TRUE(address);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&address->addr), address->length), 0) << std::strerror(errno);

    ScopedEnv socket("NOTIFY_SOCKET", name);
    ScopedEnv usec("WATCHDOG_USEC", "2000");
    ScopedEnv pid("WATCHDOG_PID", std::to_string(getpid()));
    SystemdNotifier notifier = SystemdNotifier::fromEnvironment();
    ASSERT_TRUE(notifier.enabled()) << notifier.problem();
    EXPECT_EQ(notifier.watchdog(), microseconds(1000));

    notifier.ready("ready: 0 clients");
    EXPECT_EQ(receive(fd), "READY=1\nSTATUS=ready: 0 clients\n");
    notifier.reloading();
    EXPECT_EQ(receive(fd).rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u);
    notifier.status("ready: 0 clients");  // unchanged since READY: not sent again
    notifier.status("ready: 1 client");
    EXPECT_EQ(receive(fd), "STATUS=ready: 1 client\n");
    notifier.tick(Clock::now() + std::chrono::milliseconds(5));
    EXPECT_EQ(receive(fd), "WATCHDOG=1\n");
    notifier.tick(Clock::now() + std::chrono::milliseconds(5));  // not yet due again
    EXPECT_EQ(receive(fd), "");
    notifier.stopping("stopping: 0 clients");
    EXPECT_EQ(receive(fd), "STOPPING=1\nSTATUS=stopping: 0 clients\n");
    ::close(fd);
}

TEST(SystemdNotify, NothingWithoutNotifySocket) {
    const char* old = std::getenv("NOTIFY_SOCKET");
    std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
    ::unsetenv("NOTIFY_SOCKET");
    SystemdNotifier notifier = SystemdNotifier::fromEnvironment();
    EXPECT_FALSE(notifier.enabled());
    EXPECT_TRUE(notifier.problem().empty());
    EXPECT_FALSE(notifier.send("READY=1\n"));
    if (saved) ::setenv("NOTIFY_SOCKET", saved->c_str(), 1);

    ScopedEnv bad("NOTIFY_SOCKET", "vsock:2:99");
    SystemdNotifier refused = SystemdNotifier::fromEnvironment();
    EXPECT_FALSE(refused.enabled());
    EXPECT_NE(refused.problem().find("vsock:2:99"), std::string::npos);
}

}  // namespace
}  // namespace sluice::server
