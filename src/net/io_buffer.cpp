#include "net/io_buffer.h"

#include <array>

namespace sluice::net {

namespace {

// At most this many buffers wait per thread: enough for the connections a loop iteration
// quiets and wakes, little beside 10,000 idle clients (16 × pkt_buf, 64 KB by default).
constexpr size_t kShelfSlots = 16;
// A buffer grown for one large message is freed, not kept: the shelf holds a megabyte at most.
constexpr size_t kLargestShelved = 64 * 1024;

// Set when the thread's shelf is gone (its thread is ending): buffers freed after that, by
// objects that outlive it, are simply freed. Trivially destructible, so still there then.
thread_local bool shelfGone = false;

struct Shelf {
    struct Slot {
        std::unique_ptr<uint8_t[]> storage;
        size_t capacity = 0;
    };
    std::array<Slot, kShelfSlots> slots;
    size_t used = 0;
    ~Shelf() { shelfGone = true; }
};

Shelf* shelf() {
    if (shelfGone) return nullptr;
    thread_local Shelf perThread;
    return &perThread;
}

}  // namespace

void IoBuffer::shelve(Storage storage, size_t capacity) {
    if (!storage || capacity > kLargestShelved) return;
    Shelf* s = shelf();
    if (!s || s->used == kShelfSlots) return;  // freed as it goes
    s->slots[s->used++] = {std::move(storage), capacity};
}

IoBuffer::Storage IoBuffer::unshelve(size_t capacity) {
    Shelf* s = shelf();
    if (!s) return nullptr;
    for (size_t i = s->used; i-- > 0;) {
        if (s->slots[i].capacity != capacity) continue;
        Storage found = std::move(s->slots[i].storage);
        s->slots[i] = std::move(s->slots[--s->used]);
        return found;
    }
    return nullptr;
}

}  // namespace sluice::net
