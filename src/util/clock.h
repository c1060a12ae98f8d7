// Monotonic time for timeouts and ages; wall time only appears in logs.
#pragma once

#include <chrono>
#include <cstdint>

namespace sluice {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

inline double secondsSince(TimePoint start, TimePoint now = Clock::now()) {
    return std::chrono::duration<double>(now - start).count();
}

// Monotonic microseconds (the same clock as TimePoint), for stamps kept as plain integers.
inline uint64_t nowMicros() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count());
}

// A monotonic instant as plain nanoseconds, and back: CLOCK_MONOTONIC, so another process on this
// machine reads the same instant (the online restart hands connection ages over).
inline int64_t monotonicNanos(TimePoint when) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
}
inline TimePoint fromMonotonicNanos(int64_t nanos) {
    return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(nanos)));
}

// The wall-clock time (unix microseconds) of a monotonic instant, for what people read.
inline int64_t unixMicros(TimePoint when) {
    auto wall = std::chrono::system_clock::now() -
                std::chrono::duration_cast<std::chrono::system_clock::duration>(Clock::now() - when);
    return std::chrono::duration_cast<std::chrono::microseconds>(wall.time_since_epoch()).count();
}

}  // namespace sluice
