#include "net/io_buffer.h"

#include <array>
#include <new>

namespace sluice::net {

namespace {

// At most this many buffers wait per thread: enough for the connections a loop iteration
// quiets and wakes, little beside 10,000 idle clients (16 × pkt_buf, 64 KB by default).
constexpr size_t kShelfSlots = 16;
// A buffer grown for one large message is freed, not kept: the shelf holds a megabyte at most.
constexpr size_t kLargestShelved = 64 * 1024;
// The positions are 32-bit.
constexpr size_t kLargestBuffer = UINT32_MAX;

// Set when the thread's shelf is gone (its thread is ending): buffers freed after that, by
// objects that outlive it, are simply freed. Trivially destructible, so still there then.
thread_local bool shelfGone = false;

}  // namespace

struct IoBufferShelf {
    std::array<uint8_t*, kShelfSlots> slots{};
    size_t used = 0;
    ~IoBufferShelf();
};

namespace {

IoBufferShelf* shelf() {
    if (shelfGone) return nullptr;
    thread_local IoBufferShelf perThread;
    return &perThread;
}

}  // namespace

uint8_t* IoBuffer::allocate(size_t capacity) {
    if (capacity > kLargestBuffer) throw std::bad_alloc();
    auto* block = static_cast<uint8_t*>(::operator new(kHeader + capacity));
    std::memcpy(block, &capacity, sizeof capacity);
    return block + kHeader;
}

void IoBuffer::deallocate(uint8_t* bytes) {
    if (bytes) ::operator delete(bytes - kHeader);
}

void IoBuffer::grow(size_t capacity) {
    // An empty buffer takes one a quiet connection of this thread gave back, if one of the
    // size is there: in transaction pooling every client makes and frees its buffer once
    // per transaction, and a login several times. Not zeroed either way.
    uint8_t* larger = tail_ == 0 ? unshelve(capacity) : nullptr;
    if (!larger) larger = allocate(capacity);
    if (tail_ > 0) std::memcpy(larger, bytes_, tail_);
    shelve(bytes_);
    bytes_ = larger;
}

void IoBuffer::shelve(uint8_t* bytes) {
    if (!bytes) return;
    IoBufferShelf* s = capacityOf(bytes) <= kLargestShelved ? shelf() : nullptr;
    if (!s || s->used == kShelfSlots) return deallocate(bytes);
    s->slots[s->used++] = bytes;
}

uint8_t* IoBuffer::unshelve(size_t capacity) {
    IoBufferShelf* s = shelf();
    if (!s) return nullptr;
    for (size_t i = s->used; i-- > 0;) {
        uint8_t* found = s->slots[i];
        if (capacityOf(found) != capacity) continue;
        s->slots[i] = s->slots[--s->used];
        return found;
    }
    return nullptr;
}

IoBufferShelf::~IoBufferShelf() {
    shelfGone = true;
    for (size_t i = 0; i < used; ++i) IoBuffer::deallocate(slots[i]);
}

}  // namespace sluice::net
