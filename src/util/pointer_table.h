// A hash table of pointers to objects that carry their own 64-bit key, for a worker's cancel keys:
// one entry per logged-in client. Open addressing with linear probing, 8 bytes a slot, at most
// three quarters full: 11 to 21 bytes an entry, where a std::unordered_map spends a 32-byte node
// and a bucket on each. Keys are unique; a lookup reads the keys from the objects themselves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sluice {

// KeyOf: uint64_t(const T&), the key an object is found by, the same for as long as it is here.
template <class T, auto KeyOf>
class PointerTable {
public:
    T* find(uint64_t key) const {
        if (size_ == 0) return nullptr;
        for (size_t i = home(key);; i = next(i)) {
            if (!slots_[i] || KeyOf(*slots_[i]) == key) return slots_[i];
        }
    }

    // `item`'s key must not be in the table yet.
    void insert(T& item) {
        if ((size_ + 1) * 4 > slots_.size() * 3) resize(slots_.empty() ? kSmallest : slots_.size() * 2);
        place(&item);
        ++size_;
    }

    // False when `item` is not here (an object of the same key may be).
    bool erase(const T& item) {
        if (size_ == 0) return false;
        const uint64_t key = KeyOf(item);
        size_t i = home(key);
        for (; slots_[i] != &item; i = next(i)) {
            if (!slots_[i] || KeyOf(*slots_[i]) == key) return false;
        }
        // Backward shift: each entry after the hole that may sit in it (its home slot is not
        // between the hole and where it is) moves up, so that no probe stops short of an entry.
        for (size_t j = next(i); slots_[j]; j = next(j)) {
            const size_t wanted = home(KeyOf(*slots_[j]));
            if (((j - wanted) & mask()) >= ((j - i) & mask())) {
                slots_[i] = slots_[j];
                i = j;
            }
        }
        slots_[i] = nullptr;
        --size_;
        // After a storm of clients has left, the slots go too (not below an eighth full).
        if (slots_.size() > kSmallest && size_ * 8 < slots_.size()) resize(slots_.size() / 2);
        return true;
    }

    size_t size() const { return size_; }
    size_t capacity() const { return slots_.size(); }

private:
    static constexpr size_t kSmallest = 16;

    size_t mask() const { return slots_.size() - 1; }
    size_t next(size_t i) const { return (i + 1) & mask(); }
    // Fibonacci hashing: the top bits of the key times 2^64/φ, as many as the table is wide.
    size_t home(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_); }

    void place(T* item) {
        size_t i = home(KeyOf(*item));
        while (slots_[i]) i = next(i);
        slots_[i] = item;
    }

    void resize(size_t slots) {  // a power of two
        std::vector<T*> old(slots, nullptr);
        old.swap(slots_);
        shift_ = 64;
        for (size_t n = slots; n > 1; n >>= 1) --shift_;
        for (T* item : old)
            if (item) place(item);
    }

    std::vector<T*> slots_;
    size_t size_ = 0;
    unsigned shift_ = 64;
};

}  // namespace sluice
