#include "proto/reader.h"

#include <cstring>

#include "proto/header.h"

namespace sluice::proto {

bool FieldReader::readByte(uint8_t& value) {
    if (remaining() < 1) return fail();
    value = data_[pos_++];
    return true;
}

bool FieldReader::readInt16(int16_t& value) {
    if (remaining() < 2) return fail();
    value = readI16(data_ + pos_);
    pos_ += 2;
    return true;
}

bool FieldReader::readInt32(int32_t& value) {
    if (remaining() < 4) return fail();
    value = readI32(data_ + pos_);
    pos_ += 4;
    return true;
}

bool FieldReader::readString(std::string_view& value) {
    if (remaining() < 1) return fail();
    const void* nul = std::memchr(data_ + pos_, 0, size_ - pos_);
    if (nul == nullptr) return fail();
    size_t length = static_cast<size_t>(static_cast<const uint8_t*>(nul) - (data_ + pos_));
    value = std::string_view(reinterpret_cast<const char*>(data_ + pos_), length);
    pos_ += length + 1;
    return true;
}

bool FieldReader::readBytes(size_t n, std::string_view& value) {
    if (remaining() < n || failed_) return fail();
    value = std::string_view(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return true;
}

std::string_view FieldReader::readRest() {
    std::string_view rest;
    readBytes(remaining(), rest);
    return rest;
}

}  // namespace sluice::proto
