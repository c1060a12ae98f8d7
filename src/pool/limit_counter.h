// A count shared across pools and workers against a limit that spans them: server connections per
// database (max_db_connections) or per user (max_user_connections), clients per database or user.
#pragma once

#include <atomic>
#include <cstdint>

namespace sluice::pool {

class LimitCounter {
public:
    // Takes one unit if the count is below `limit`; a limit <= 0 means unlimited.
    bool tryAcquire(int64_t limit) {
        int64_t current = value_.load(std::memory_order_relaxed);
        while (limit <= 0 || current < limit) {
            if (value_.compare_exchange_weak(current, current + 1, std::memory_order_acq_rel)) return true;
        }
        return false;
    }
    void release() { value_.fetch_sub(1, std::memory_order_acq_rel); }
    int64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<int64_t> value_{0};
};

}  // namespace sluice::pool
