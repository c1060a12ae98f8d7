// Bounds-checked sequential reading of the fields inside one message body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::proto {

// Reads big-endian integers, NUL-terminated strings and byte runs from a buffer it does
// not own. A read past the end returns false and leaves the reader failed for good, so
// a parser can chain reads and check once, without ever touching bytes beyond `size`.
// Views it returns point into the caller's buffer and live as long as it does.
class FieldReader {
public:
    FieldReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

    bool readByte(uint8_t& value);
    bool readInt16(int16_t& value);
    bool readInt32(int32_t& value);
    // A NUL-terminated string; the view excludes the NUL, which is consumed.
    bool readString(std::string_view& value);
    bool readBytes(size_t n, std::string_view& value);
    // Everything left, possibly nothing.
    std::string_view readRest();

    size_t remaining() const { return failed_ ? 0 : size_ - pos_; }
    bool atEnd() const { return !failed_ && pos_ == size_; }
    bool failed() const { return failed_; }

private:
    bool fail() {
        failed_ = true;
        return false;
    }

    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
    bool failed_ = false;
};

}  // namespace sluice::proto
