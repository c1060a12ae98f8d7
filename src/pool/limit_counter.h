// A count shared across pools and workers against a limit that spans them: server connections per
// database (max_db_connections) or per user (max_user_connections), clients per database or user.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

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

// One client's place under max_db_client_connections and max_user_client_connections: the
// counters of its database and of its user, which every pool of them shares (and the console).
class ClientLimits {
public:
    ClientLimits(std::shared_ptr<LimitCounter> database, std::shared_ptr<LimitCounter> user)
        : database_(std::move(database)), user_(std::move(user)) {}

    // Counts one client against both limits (<= 0: unlimited); on refusal nothing is counted and
    // `which` names the limit that refused.
    bool tryAdmit(int64_t databaseLimit, int64_t userLimit, std::string_view& which) {
        if (!database_->tryAcquire(databaseLimit)) {
            which = "max_db_client_connections";
            return false;
        }
        if (!user_->tryAcquire(userLimit)) {
            database_->release();
            which = "max_user_client_connections";
            return false;
        }
        return true;
    }
    void release() {
        user_->release();
        database_->release();
    }

private:
    std::shared_ptr<LimitCounter> database_, user_;
};

}  // namespace sluice::pool
