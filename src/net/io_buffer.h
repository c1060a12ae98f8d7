// A byte buffer with a read and a write position: bytes arrive at the tail (socket reads) and are
// consumed at the head (protocol parsing), without moving memory on every message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

namespace sluice::net {

class IoBuffer {
public:
    IoBuffer() = default;
    IoBuffer(const IoBuffer&) = delete;
    IoBuffer& operator=(const IoBuffer&) = delete;
    ~IoBuffer() { shelve(std::move(storage_), capacity_); }

    const uint8_t* data() const { return storage_.get() + head_; }
    size_t size() const { return tail_ - head_; }
    bool empty() const { return head_ == tail_; }

    void consume(size_t n) {
        head_ += n;
        if (head_ == tail_) head_ = tail_ = 0;
    }

    // Room for at least `n` more bytes at the tail; compacts before it grows. The room is not
    // zeroed: a client's buffer is made anew for each transaction (see release), and clearing
    // pkt_buf bytes that a read overwrites at once was a tenth of a login's instructions.
    uint8_t* reserve(size_t n) {
        if (capacity_ - tail_ < n) {
            if (head_ > 0) {
                std::memmove(storage_.get(), storage_.get() + head_, size());
                tail_ -= head_;
                head_ = 0;
            }
            if (capacity_ - tail_ < n) grow(tail_ + n);
        }
        return storage_.get() + tail_;
    }
    size_t writable() const { return capacity_ - tail_; }
    void commit(size_t n) { tail_ += n; }

    void append(const void* p, size_t n) {
        std::memcpy(reserve(n), p, n);
        commit(n);
    }

    // Gives the memory back when a connection goes quiet, so idle clients cost little.
    void release() {
        if (empty()) {
            shelve(std::move(storage_), capacity_);
            capacity_ = head_ = tail_ = 0;
        }
    }

private:
    using Storage = std::unique_ptr<uint8_t[]>;

    void grow(size_t capacity) {
        // An empty buffer takes one a quiet connection of this thread gave back, if one of the
        // size is there: in transaction pooling every client makes and frees its buffer once
        // per transaction, and a login several times. Not zeroed either way.
        Storage larger = tail_ == 0 ? unshelve(capacity) : nullptr;
        if (!larger) larger.reset(new uint8_t[capacity]);
        if (tail_ > 0) std::memcpy(larger.get(), storage_.get(), tail_);
        shelve(std::move(storage_), capacity_);
        storage_ = std::move(larger);
        capacity_ = capacity;
    }
    // A small per-thread stack of freed buffers (io_buffer.cpp); a full one frees them.
    static void shelve(Storage storage, size_t capacity);
    static Storage unshelve(size_t capacity);

    Storage storage_;
    size_t capacity_ = 0;
    size_t head_ = 0;
    size_t tail_ = 0;
};

}  // namespace sluice::net
