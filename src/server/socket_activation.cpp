#include "server/socket_activation.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace sluice::server {
namespace {

constexpr int kFirstPassedFd = 3;  // SD_LISTEN_FDS_START

long numberFrom(const char* text) {
    if (text == nullptr || *text == '\0') return -1;
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    return *end == '\0' ? value : -1;
}

}  // namespace

std::vector<int> takeActivationSockets() {
    const long pid = numberFrom(std::getenv("LISTEN_PID"));
    const long count = numberFrom(std::getenv("LISTEN_FDS"));
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
    std::vector<int> fds;
    if (pid != static_cast<long>(::getpid()) || count <= 0) return fds;
    for (int fd = kFirstPassedFd; fd < kFirstPassedFd + count; ++fd) {
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // ours alone: not inherited by anything we start
        fds.push_back(fd);
    }
    return fds;
}

}  // namespace sluice::server
