// systemd's readiness protocol (sd_notify(3)) without libsystemd: newline-separated
// `KEY=value` assignments, one datagram per message, sent to the AF_UNIX socket named by
// $NOTIFY_SOCKET (a path, or an abstract name written with a leading '@'). Nothing is sent when
// $NOTIFY_SOCKET is unset, so the daemon behaves the same outside systemd. The watchdog
// ($WATCHDOG_USEC, for this process when $WATCHDOG_PID is unset or names it) is kept alive by
// WATCHDOG=1 at half its interval, from the control loop's tick: a stuck control loop stops it.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/clock.h"
#include "util/result.h"

namespace sluice::server {

// The address $NOTIFY_SOCKET names. "/run/systemd/notify" is a path; "@name" is the abstract
// socket "\0name". Anything else (vsock:, a relative path, too long a name) is an error.
struct NotifyAddress {
    sockaddr_un addr{};
    socklen_t length = 0;
};
Result<NotifyAddress> parseNotifySocket(std::string_view value);

// How often to send WATCHDOG=1: half of $WATCHDOG_USEC; nullopt when no watchdog is wanted
// (unset, not a positive number, or $WATCHDOG_PID names another process).
std::optional<std::chrono::microseconds> watchdogPeriod(const char* watchdogUsec, const char* watchdogPid,
                                                        pid_t self);

// The messages, as sent (pure, for the unit test).
std::string readyMessage(std::string_view status);
// systemd 253+ wants the CLOCK_MONOTONIC time of the reload request with RELOADING=1.
std::string reloadingMessage(uint64_t monotonicUsec);
std::string stoppingMessage(std::string_view status);
std::string statusMessage(std::string_view status);
// The STATUS= text: what `systemctl status` shows.
std::string statusText(size_t clients, size_t servers, size_t activeServers, std::string_view state);

class SystemdNotifier {
public:
    // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID. A bad NOTIFY_SOCKET leaves the
    // notifier disabled and `problem()` says why (the caller logs it).
    static SystemdNotifier fromEnvironment();
    SystemdNotifier() = default;
    ~SystemdNotifier();
    SystemdNotifier(SystemdNotifier&& other) noexcept;
    SystemdNotifier& operator=(SystemdNotifier&& other) noexcept;
    SystemdNotifier(const SystemdNotifier&) = delete;
    SystemdNotifier& operator=(const SystemdNotifier&) = delete;

    bool enabled() const { return fd_ >= 0; }
    const std::string& problem() const { return problem_; }
    std::optional<std::chrono::microseconds> watchdog() const { return watchdog_; }

    void ready(std::string_view status);
    void reloading();
    void stopping(std::string_view status);
    // Sends STATUS= only when the text changed since the last one sent.
    void status(std::string_view status);
    // From the control loop's timer: WATCHDOG=1 when half the watchdog interval has passed.
    void tick(TimePoint now);

    // One datagram; false when disabled or the send failed (never blocks).
    bool send(std::string_view message);

private:
    int fd_ = -1;
    NotifyAddress address_;
    std::string problem_;
    std::optional<std::chrono::microseconds> watchdog_;
    TimePoint lastWatchdog_{};
    std::string lastStatus_;
};

}  // namespace sluice::server
