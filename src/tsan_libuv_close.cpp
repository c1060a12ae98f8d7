// Linked into the daemon only when built with ThreadSanitizer (SLUICE_TSAN).
//
// The system's libuv is not instrumented, and it closes descriptors with syscall(SYS_close, fd)
// rather than close(), so ThreadSanitizer never learns that a descriptor was closed. When a
// later descriptor gets the same number on another thread (a worker's accept, or the dup that
// carries a client across an online restart), TSan takes the new descriptor's first use for a
// race with the old one's last use: a false report, reproduced in a ten-line program.
//
// libuv calls syscall() through the PLT, so this definition in the executable takes its place:
// closes go through close(), which TSan intercepts; every other call goes on unchanged.
#include <dlfcn.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdarg>

extern "C" long syscall(long number, ...) {
    va_list args;
    va_start(args, number);
    long a[6];
    // Like glibc's own syscall(): six argument registers, whatever the call uses.
    for (long& arg : a) arg = va_arg(args, long);
    va_end(args);
    if (number == SYS_close) return ::close(static_cast<int>(a[0]));
    using Syscall = long (*)(long, ...);
    static const auto next = reinterpret_cast<Syscall>(::dlsym(RTLD_NEXT, "syscall"));
    return next(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
