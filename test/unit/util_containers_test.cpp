// IntrusiveList (elements found from their hooks by a cast), IoBuffer (storage made without
// zeroing, compacted before it grows, given back when empty to the thread's shelf, and taken
// from there again) and PointerTable (checked against std::unordered_map).
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "net/io_buffer.h"
#include "util/intrusive_list.h"
#include "util/pointer_table.h"

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

struct Keyed {
    uint64_t key;
};
uint64_t keyOf(const Keyed& item) { return item.key; }
using KeyedTable = PointerTable<Keyed, keyOf>;

TEST(PointerTable, FindsWhatWasInsertedUntilItIsErased) {
    KeyedTable table;
    Keyed a{42}, b{7}, sameKeyAsA{42};
    EXPECT_EQ(table.find(42), nullptr);
    EXPECT_FALSE(table.erase(a));
    table.insert(a);
    table.insert(b);
    EXPECT_EQ(table.find(42), &a);
    EXPECT_EQ(table.find(7), &b);
    EXPECT_EQ(table.find(8), nullptr);
    EXPECT_FALSE(table.erase(sameKeyAsA)) << "an object is erased, not whatever has its key";
    EXPECT_EQ(table.find(42), &a);
    EXPECT_TRUE(table.erase(a));
    EXPECT_EQ(table.find(42), nullptr);
    EXPECT_EQ(table.find(7), &b);
    EXPECT_EQ(table.size(), 1u);
}

TEST(PointerTable, AgreesWithAnUnorderedMapThroughGrowthCollisionsAndShrinking) {
    // Random inserts and erases, many more than the smallest table holds, so that probe runs
    // collide, wrap around the end and are closed up again by erases; every key checked after
    // every step would be slow, so each step checks the key it touched and a random other one.
    std::mt19937_64 random(17);
    std::deque<Keyed> items;  // stable addresses
    std::unordered_map<uint64_t, Keyed*> model;
    std::vector<uint64_t> keys;
    KeyedTable table;
    size_t largest = 0;
    for (int step = 0; step < 200000; ++step) {
        const bool grow = step < 100000 ? random() % 3 != 0 : random() % 3 == 0;  // fill, then drain
        if (grow || keys.empty()) {
            // Some small keys too, which differ only in their low bits.
            const uint64_t key = random() % 8 == 0 ? random() % 1024 : random();
            if (model.count(key)) continue;
            items.push_back({key});
            table.insert(items.back());
            model[key] = &items.back();
            keys.push_back(key);
        } else {
            const size_t at = random() % keys.size();
            const uint64_t key = keys[at];
            keys[at] = keys.back();
            keys.pop_back();
            ASSERT_TRUE(table.erase(*model[key]));
            model.erase(key);
            ASSERT_EQ(table.find(key), nullptr);
        }
        ASSERT_EQ(table.size(), model.size());
        largest = std::max(largest, table.capacity());
        if (!keys.empty()) {
            const uint64_t probe = keys[random() % keys.size()];
            ASSERT_EQ(table.find(probe), model[probe]);
        }
        ASSERT_LE(table.size() * 4, table.capacity() * 3) << "more than three quarters full";
    }
    for (const auto& [key, item] : model) ASSERT_EQ(table.find(key), item);
    EXPECT_GE(largest, 32768u);
    EXPECT_LT(table.capacity(), largest / 8) << "the slots stayed after the entries left";
}

}  // namespace
}  // namespace sluice
