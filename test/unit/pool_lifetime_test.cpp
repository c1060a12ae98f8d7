// Pool::retireForLifetime: server_lifetime as PgBouncer applies it (spread closes, 0 = use once).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "pool/pool.h"

namespace sluice::pool {
namespace {

using namespace std::chrono_literals;

Pool makePool() {
    auto counter = [] { return std::make_shared<LimitCounter>(); };
    return Pool("db", "user", std::make_shared<PoolTarget>(), counter(), counter());
}

TEST(PoolLifetime, AServerYoungerThanTheLifetimeStays) {
    Pool pool = makePool();
    const TimePoint now = Clock::now();
    EXPECT_FALSE(pool.retireForLifetime(now - 59s, 60, 4, now));
}

TEST(PoolLifetime, ServersThatAgedTogetherCloseOnePerLifetimeOverPoolSize) {
    Pool pool = makePool();
    const TimePoint opened = Clock::now();
    const TimePoint expiry = opened + 60s;  // four servers opened together, lifetime 60 s, pool of 4
    EXPECT_TRUE(pool.retireForLifetime(opened, 60, 4, expiry));
    EXPECT_FALSE(pool.retireForLifetime(opened, 60, 4, expiry)) << "a second close in the same instant";
    EXPECT_FALSE(pool.retireForLifetime(opened, 60, 4, expiry + 14s)) << "before lifetime / pool size (15 s)";
    EXPECT_TRUE(pool.retireForLifetime(opened, 60, 4, expiry + 15s));
    EXPECT_FALSE(pool.retireForLifetime(opened, 60, 4, expiry + 20s));
    EXPECT_TRUE(pool.retireForLifetime(opened, 60, 4, expiry + 30s));
}

TEST(PoolLifetime, ALifetimeOfZeroClosesEveryServerAtOnce) {
    Pool pool = makePool();
    const TimePoint now = Clock::now();
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(pool.retireForLifetime(now, 0, 20, now)) << "server " << i;
}

}  // namespace
}  // namespace sluice::pool
