// The read buffer: bytes in at the tail, out at the head; memory given back when quiet, and
// taken again from the thread's shelf of such buffers.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "net/io_buffer.h"

namespace sluice::net {
namespace {

std::string contents(const IoBuffer& buffer) {
    return std::string(reinterpret_cast<const char*>(buffer.data()), buffer.size());
}

TEST(NetIoBuffer, KeepsBytesAcrossCompactionAndGrowth) {
    IoBuffer buffer;
    buffer.append("hello ", 6);
    buffer.consume(2);
    buffer.append("world", 5);
    EXPECT_EQ(contents(buffer), "llo world");
    const std::string big(10000, 'x');
    buffer.append(big.data(), big.size());
    EXPECT_EQ(contents(buffer), "llo world" + big);
    buffer.consume(buffer.size());
    EXPECT_TRUE(buffer.empty());
}

TEST(NetIoBuffer, ReleaseKeepsUnreadBytes) {
    IoBuffer buffer;
    buffer.append("pending", 7);
    buffer.release();
    EXPECT_EQ(contents(buffer), "pending");
}

TEST(NetIoBuffer, AReleasedBufferIsTakenAgainBySameSizedReserve) {
    std::thread([] {  // a thread of its own: a shelf no other test has filled
        IoBuffer first;
        const uint8_t* memory = first.reserve(4096);
        first.release();
        IoBuffer second;
        EXPECT_EQ(second.reserve(4096), memory) << "the shelved buffer was not reused";
        second.release();
        IoBuffer other;
        EXPECT_NE(other.reserve(8192), memory) << "a buffer of another size was handed out";
        EXPECT_GE(other.writable(), 8192u);
    }).join();
}

TEST(NetIoBuffer, BuffersFreedAsTheirThreadEndsAreNotLost) {
    // IoBuffers destroyed by a thread after its shelf is gone are freed directly: under ASan
    // a leak or a write into the dead shelf would fail this test.
    std::thread([] {
        thread_local IoBuffer outlivesTheShelf;
        outlivesTheShelf.reserve(4096);
        IoBuffer shelved;
        shelved.reserve(4096);
    }).join();
}

}  // namespace
}  // namespace sluice::net
