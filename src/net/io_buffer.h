// A byte buffer with a read and a write position: bytes arrive at the tail (socket reads) and are
// consumed at the head (protocol parsing), without moving memory on every message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sluice::net {

class IoBuffer {
public:
    IoBuffer() = default;
    IoBuffer(const IoBuffer&) = delete;
    IoBuffer& operator=(const IoBuffer&) = delete;
    ~IoBuffer() { shelve(bytes_); }

    const uint8_t* data() const { return bytes_ + head_; }
    size_t size() const { return tail_ - head_; }
    bool empty() const { return head_ == tail_; }

    void consume(size_t n) {
        head_ += static_cast<uint32_t>(n);
        if (head_ == tail_) head_ = tail_ = 0;
    }

    // Room for at least `n` more bytes at the tail; compacts before it grows. The room is not
    // zeroed: a client's buffer is made anew for each transaction (see release), and clearing
    // pkt_buf bytes that a read overwrites at once was a tenth of a login's instructions.
    uint8_t* reserve(size_t n) {
        if (writable() < n) {
            if (head_ > 0) {
                std::memmove(bytes_, bytes_ + head_, size());
                tail_ -= head_;
                head_ = 0;
            }
            if (writable() < n) grow(tail_ + n);
        }
        return bytes_ + tail_;
    }
    size_t writable() const { return capacityOf(bytes_) - tail_; }
    void commit(size_t n) { tail_ += static_cast<uint32_t>(n); }

    void append(const void* p, size_t n) {
        std::memcpy(reserve(n), p, n);
        commit(n);
    }

    // Gives the memory back when a connection goes quiet, so idle clients cost little.
    void release() {
        if (empty()) {
            shelve(bytes_);
            bytes_ = nullptr;
            head_ = tail_ = 0;
        }
    }

private:
    // The buffer is one allocation: its capacity, then its bytes, which bytes_ points at. So an
    // idle connection's buffer is a null pointer and two 32-bit positions (16 bytes, not 32):
    // a message is at most max_packet_size (< 2 GB), and a buffer holds one and a read's chunk.
    static constexpr size_t kHeader = sizeof(size_t);
    static size_t capacityOf(const uint8_t* bytes) {
        if (!bytes) return 0;
        size_t capacity;
        std::memcpy(&capacity, bytes - kHeader, sizeof capacity);
        return capacity;
    }
    static uint8_t* allocate(size_t capacity);
    static void deallocate(uint8_t* bytes);
    friend struct IoBufferShelf;  // frees what it holds when its thread ends

    void grow(size_t capacity);
    // A small per-thread stack of freed buffers (io_buffer.cpp); a full one frees them.
    static void shelve(uint8_t* bytes);
    static uint8_t* unshelve(size_t capacity);

    uint8_t* bytes_ = nullptr;
    uint32_t head_ = 0;
    uint32_t tail_ = 0;
};

}  // namespace sluice::net
