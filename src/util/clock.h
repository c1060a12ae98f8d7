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

}  // namespace sluice
