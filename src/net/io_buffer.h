// A byte buffer with a read and a write position: bytes arrive at the tail (socket reads) and are
// consumed at the head (protocol parsing), without moving memory on every message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace sluice::net {

class IoBuffer {
public:
    const uint8_t* data() const { return storage_.data() + head_; }
    size_t size() const { return tail_ - head_; }
    bool empty() const { return head_ == tail_; }

    void consume(size_t n) {
        head_ += n;
        if (head_ == tail_) head_ = tail_ = 0;
    }

    // Room for at least `n` more bytes at the tail; compacts before it grows.
    uint8_t* reserve(size_t n) {
        if (storage_.size() - tail_ < n) {
            if (head_ > 0) {
                std::memmove(storage_.data(), storage_.data() + head_, size());
                tail_ -= head_;
                head_ = 0;
            }
            if (storage_.size() - tail_ < n) storage_.resize(tail_ + n);
        }
        return storage_.data() + tail_;
    }
    size_t writable() const { return storage_.size() - tail_; }
    void commit(size_t n) { tail_ += n; }

    void append(const void* p, size_t n) {
        std::memcpy(reserve(n), p, n);
        commit(n);
    }

    // Gives the memory back when a connection goes quiet, so idle clients cost little.
    void release() {
        if (empty()) {
            std::vector<uint8_t>().swap(storage_);
            head_ = tail_ = 0;
        }
    }

private:
    std::vector<uint8_t> storage_;
    size_t head_ = 0;
    size_t tail_ = 0;
};

}  // namespace sluice::net
