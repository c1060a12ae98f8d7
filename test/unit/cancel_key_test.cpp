// The cancel key layout (conn/cancel_key.h): PgBouncer 1.21+'s places for the peer id and the
// time to live, our worker index in the pid's low byte, the sign bit always clear.
#include "conn/cancel_key.h"

#include <gtest/gtest.h>

namespace sluice::conn {
namespace {

TEST(CancelKey, WithoutPeeringOnlyTheWorkerByteAndTheSignBitAreFixed) {
    const uint8_t random[8] = {0xff, 0xff, 0xff, 0xff, 0x12, 0x34, 0x56, 0x78};
    const CancelKey given = makeCancelKey(random, 5, 0);
    EXPECT_GT(given.pid, 0);
    EXPECT_EQ(cancelKeyWorker(given.pid), 5);
    EXPECT_EQ(static_cast<uint32_t>(given.pid) & 0x7fffff00u, 0x7fffff00u);  // the rest stays random
    int32_t key = 0;
    std::memcpy(&key, random + 4, sizeof key);
    EXPECT_EQ(given.key, key);
}

TEST(CancelKey, WithPeeringThePeerIdSitsWherePgBouncerPutsIt) {
    const uint8_t random[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    const CancelKey given = makeCancelKey(random, 2, 0x1234);
    EXPECT_GT(given.pid, 0);
    EXPECT_EQ(cancelKeyPeer(given.pid), 0x1234);
    EXPECT_EQ(cancelKeyWorker(given.pid), 2);
    EXPECT_EQ(cancelKeyTtl(given.key), 3);
    // On the wire the pid is big-endian: byte 1 is the id's low byte, byte 2 its high byte.
    const auto pid = static_cast<uint32_t>(given.pid);
    EXPECT_EQ((pid >> 16) & 0xffu, 0x34u);
    EXPECT_EQ((pid >> 8) & 0xffu, 0x12u);
    EXPECT_EQ(pid >> 24, 0x7fu);
}

TEST(CancelKey, EveryPeerIdAndWorkerRoundTrips) {
    const uint8_t random[8] = {0xa5, 0x5a, 0xa5, 0x5a, 0xa5, 0x5a, 0xa5, 0x5a};
    for (int peer : {1, 255, 256, 16383, 65535})
        for (int worker : {0, 1, 255}) {
            const CancelKey given = makeCancelKey(random, worker, peer);
            EXPECT_EQ(cancelKeyPeer(given.pid), peer);
            EXPECT_EQ(cancelKeyWorker(given.pid), worker);
            EXPECT_GE(given.pid, 0);
        }
}

}  // namespace
}  // namespace sluice::conn
