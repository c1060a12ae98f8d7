// IntrusiveList (elements found from their hooks by a cast) and IoBuffer (storage made without
// zeroing, compacted before it grows, given back when empty to the thread's shelf, and taken
// from there again).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "net/io_buffer.h"
#include "util/intrusive_list.h"

namespace sluice {
namespace {

struct RedHook : ListHook {};
struct BlueHook : ListHook {};

// An element on two kinds of list at once, with a base before its hooks so that the casts from
// hook to element must adjust the pointer.
struct Base {
    virtual ~Base() = default;
    int padding = 0;
};
struct Item : Base, RedHook, BlueHook {
    explicit Item(int v) : value(v) {}
    int value;
};

std::vector<int> values(const IntrusiveList<Item, RedHook>& list) {
    std::vector<int> out;
    list.forEach([&](const Item& item) { out.push_back(item.value); });
    return out;
}

TEST(IntrusiveList, AnElementOnTwoListsIsFoundFromEitherHook) {
    Item a(1), b(2), c(3);
    IntrusiveList<Item, RedHook> red;
    IntrusiveList<Item, BlueHook> blue;
    red.pushBack(a);
    red.pushBack(b);
    red.pushFront(c);
    blue.pushBack(b);
    EXPECT_EQ(values(red), (std::vector<int>{3, 1, 2}));
    EXPECT_EQ(red.front(), &c);
    EXPECT_EQ(red.back(), &b);
    EXPECT_EQ(blue.front(), &b);
    EXPECT_TRUE(red.contains(b));
    EXPECT_TRUE(blue.contains(b));
    EXPECT_FALSE(blue.contains(a));

    red.remove(b);  // off the red list only
    EXPECT_EQ(values(red), (std::vector<int>{3, 1}));
    EXPECT_TRUE(blue.contains(b));
    EXPECT_EQ(blue.popFront(), &b);
    EXPECT_TRUE(blue.empty());
    EXPECT_EQ(blue.popFront(), nullptr);
}

TEST(IntrusiveList, PushingMovesAnElementFromTheListItIsOnAndForEachMayRemoveTheVisitedOne) {
    Item a(1), b(2), c(3);
    IntrusiveList<Item, RedHook> first, second;
    first.pushBack(a);
    first.pushBack(b);
    first.pushBack(c);
    second.pushBack(b);  // leaves `first`
    EXPECT_EQ(first.size(), 2u);
    EXPECT_EQ(values(second), (std::vector<int>{2}));
    first.forEach([&](Item& item) {
        if (item.value == 1) second.pushBack(item);
    });
    EXPECT_EQ(values(first), (std::vector<int>{3}));
    EXPECT_EQ(values(second), (std::vector<int>{2, 1}));
}

std::string contents(const net::IoBuffer& buffer) {
    return {reinterpret_cast<const char*>(buffer.data()), buffer.size()};
}

TEST(IoBuffer, KeepsUnconsumedBytesThroughCompactionAndGrowth) {
    net::IoBuffer buffer;
    EXPECT_TRUE(buffer.empty());
    buffer.append("hello world", 11);
    buffer.consume(6);
    EXPECT_EQ(contents(buffer), "world");
    // More than the room left: the unconsumed bytes move to the front, then the storage grows.
    const std::string big(10000, 'x');
    buffer.append(big.data(), big.size());
    EXPECT_EQ(contents(buffer), "world" + big);
    uint8_t* room = buffer.reserve(4);
    std::memcpy(room, "tail", 4);
    buffer.commit(4);
    EXPECT_EQ(contents(buffer), "world" + big + "tail");
    buffer.consume(buffer.size());
    EXPECT_TRUE(buffer.empty());
}

TEST(IoBuffer, ReleaseGivesTheStorageBackOnlyWhenEmpty) {
    net::IoBuffer buffer;
    buffer.append("abc", 3);
    buffer.reserve(100);
    buffer.release();  // not empty: kept
    EXPECT_EQ(contents(buffer), "abc");
    EXPECT_GE(buffer.writable(), 100u);
    buffer.consume(3);
    buffer.release();
    EXPECT_EQ(buffer.writable(), 0u);
    EXPECT_EQ(buffer.size(), 0u);
    buffer.append("again", 5);
    EXPECT_EQ(contents(buffer), "again");
}

TEST(IoBuffer, AGivenBackBufferIsTakenAgainBySameSizedReserve) {
    std::thread([] {  // a thread of its own: a shelf no other test has filled
        net::IoBuffer first;
        const uint8_t* memory = first.reserve(4096);
        first.release();
        net::IoBuffer second;
        EXPECT_EQ(second.reserve(4096), memory) << "the shelved buffer was not reused";
        second.release();
        net::IoBuffer other;
        EXPECT_NE(other.reserve(8192), memory) << "a buffer of another size was handed out";
        EXPECT_GE(other.writable(), 8192u);
    }).join();
}

TEST(IoBuffer, BuffersGivenBackAsTheirThreadEndsAreFreed) {
    // One destroyed after its thread's shelf is gone is freed directly, one destroyed before it
    // goes with the shelf: under ASan a leak or a write into the dead shelf fails this test.
    std::thread([] {
        thread_local net::IoBuffer outlivesTheShelf;  // constructed before the shelf: destroyed after
        outlivesTheShelf.reserve(4096);
        net::IoBuffer shelved;
        shelved.reserve(4096);
    }).join();
}

}  // namespace
}  // namespace sluice
