// The read buffer: bytes in at the tail, out at the head; memory given back when quiet.
#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace sluice::net
