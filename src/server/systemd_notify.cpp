#include "server/systemd_notify.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace sluice::server {

Result<NotifyAddress> parseNotifySocket(std::string_view value) {
    NotifyAddress out;
    out.addr.sun_family = AF_UNIX;
    if (value.empty()) return Error{"NOTIFY_SOCKET is empty"};
    const bool abstract = value.front() == '@';
    if (!abstract && value.front() != '/')
        return Error{fmt::format("NOTIFY_SOCKET '{}' is neither an absolute path nor an abstract name (@name); "
                                 "only AF_UNIX notification sockets are supported",
                                 value)};
    // An abstract name may use every byte of sun_path (its first is the NUL); a path needs a NUL after it.
    const size_t room = sizeof(out.addr.sun_path) - (abstract ? 0 : 1);
    if (value.size() > room) return Error{fmt::format("NOTIFY_SOCKET '{}' is too long", value)};
    std::memcpy(out.addr.sun_path, value.data(), value.size());
    if (abstract) out.addr.sun_path[0] = '\0';
    // Abstract names are exactly as long as given (no NUL terminator counts).
    out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + value.size() + (abstract ? 0 : 1));
    return out;
}

std::optional<std::chrono::microseconds> watchdogPeriod(const char* watchdogUsec, const char* watchdogPid,
                                                        pid_t self) {
    if (!watchdogUsec || !*watchdogUsec) return std::nullopt;
    const std::string_view usecText(watchdogUsec);
    uint64_t usec = 0;
    auto [end, ec] = std::from_chars(usecText.data(), usecText.data() + usecText.size(), usec);
    if (ec != std::errc{} || end != usecText.data() + usecText.size() || usec == 0) return std::nullopt;
    if (watchdogPid && *watchdogPid) {
        const std::string_view pidText(watchdogPid);
        long long pid = 0;
        auto [pidEnd, pidEc] = std::from_chars(pidText.data(), pidText.data() + pidText.size(), pid);
        if (pidEc != std::errc{} || pidEnd != pidText.data() + pidText.size() || pid != static_cast<long long>(self))
            return std::nullopt;
    }
    return std::chrono::microseconds(std::max<uint64_t>(usec / 2, 1));
}

std::string readyMessage(std::string_view status) { return fmt::format("READY=1\nSTATUS={}\n", status); }

std::string reloadingMessage(uint64_t monotonicUsec) {
    return fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading the configuration\n", monotonicUsec);
}

std::string stoppingMessage(std::string_view status) { return fmt::format("STOPPING=1\nSTATUS={}\n", status); }

std::string statusMessage(std::string_view status) { return fmt::format("STATUS={}\n", status); }

std::string statusText(size_t clients, size_t servers, size_t activeServers, std::string_view state) {
    return fmt::format("{}: {} client{}, {} server{} ({} active)", state, clients, clients == 1 ? "" : "s", servers,
                       servers == 1 ? "" : "s", activeServers);
}

SystemdNotifier SystemdNotifier::fromEnvironment() {
    SystemdNotifier notifier;
    const char* socketName = std::getenv("NOTIFY_SOCKET");
    if (!socketName || !*socketName) return notifier;
    auto address = parseNotifySocket(socketName);
    if (!address) {
        notifier.problem_ = address.error().message;
        return notifier;
    }
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        notifier.problem_ = fmt::format("cannot make a socket for NOTIFY_SOCKET: {}", std::strerror(errno));
        return notifier;
    }
    notifier.fd_ = fd;
    notifier.address_ = address.value();
    notifier.watchdog_ = watchdogPeriod(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), getpid());
    notifier.lastWatchdog_ = Clock::now();
    return notifier;
}

SystemdNotifier::~SystemdNotifier() {
    if (fd_ >= 0) ::close(fd_);
}

SystemdNotifier::SystemdNotifier(SystemdNotifier&& other) noexcept { *this = std::move(other); }

SystemdNotifier& SystemdNotifier::operator=(SystemdNotifier&& other) noexcept {
    if (this == &other) return *this;
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    address_ = other.address_;
    problem_ = std::move(other.problem_);
    watchdog_ = other.watchdog_;
    lastWatchdog_ = other.lastWatchdog_;
    lastStatus_ = std::move(other.lastStatus_);
    return *this;
}

bool SystemdNotifier::send(std::string_view message) {
    if (fd_ < 0) return false;
    ssize_t sent;
    do {
        sent = ::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL,
                        reinterpret_cast<const sockaddr*>(&address_.addr), address_.length);
    } while (sent < 0 && errno == EINTR);
    return sent == static_cast<ssize_t>(message.size());
}

void SystemdNotifier::ready(std::string_view status) {
    lastStatus_ = std::string(status);
    send(readyMessage(status));
}

void SystemdNotifier::reloading() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    send(reloadingMessage(static_cast<uint64_t>(now.tv_sec) * 1000000 + static_cast<uint64_t>(now.tv_nsec) / 1000));
}

void SystemdNotifier::stopping(std::string_view status) {
    lastStatus_ = std::string(status);
    send(stoppingMessage(status));
}

void SystemdNotifier::status(std::string_view status) {
    if (fd_ < 0 || status == lastStatus_) return;
    lastStatus_ = std::string(status);
    send(statusMessage(status));
}

void SystemdNotifier::tick(TimePoint now) {
    if (fd_ < 0 || !watchdog_ || now - lastWatchdog_ < *watchdog_) return;
    lastWatchdog_ = now;
    send("WATCHDOG=1\n");
}

}  // namespace sluice::server
