// Helpers shared by the libFuzzer targets of test/fuzz/ (one target per file, each a
// LLVMFuzzerTestOneInput over the project's real parsing code, linked from sluice_core).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/header.h"

// An invariant a target checks: a violation aborts, which libFuzzer (and the replay driver)
// reports as a crash with the input that caused it. Not assert(): it must hold in Release too.
#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                  \
        }                                                                                  \
    } while (0)

namespace sluice::fuzz {

// Takes bytes off the front of the input for structure-aware targets: choices, small numbers,
// and strings. Past the end every read gives zero / empty, so a target never runs out.
class Bytes {
public:
    Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    bool empty() const { return pos_ >= size_; }
    size_t remaining() const { return size_ - pos_; }
    uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
    // A string of up to `max` bytes: a length byte, then that many bytes.
    std::string string(size_t max = 64) {
        size_t n = byte() % (max + 1);
        if (n > remaining()) n = remaining();
        std::string out(reinterpret_cast<const char*>(data_ + pos_), n);
        pos_ += n;
        return out;
    }
    std::string rest() {
        std::string out(reinterpret_cast<const char*>(data_ + pos_), remaining());
        pos_ = size_;
        return out;
    }

private:
    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
};

// Every byte of `out` belongs to a whole, valid protocol message.
inline void checkFramed(const std::string& out) {
    size_t pos = 0;
    const auto* bytes = reinterpret_cast<const uint8_t*>(out.data());
    while (pos < out.size()) {
        auto header = proto::peekHeader(bytes + pos, out.size() - pos);
        FUZZ_CHECK(header && proto::headerIsValid(*header, 1u << 30));
        FUZZ_CHECK(header->totalSize() <= out.size() - pos);
        pos += header->totalSize();
    }
}

inline std::string_view asText(const uint8_t* data, size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// Whether a configuration text names another file through `marker` ("%include", "@") by an
// absolute path or one that climbs out of the target's own directory: such inputs are skipped,
// so a fuzzer never reads files of the machine (relative names stay inside the corpus dir).
inline bool namesOutsideFile(std::string_view text, std::string_view marker) {
    for (size_t at = text.find(marker); at != std::string_view::npos; at = text.find(marker, at + 1)) {
        size_t end = at + marker.size();
        while (end < text.size() && text[end] != '\n' && text[end] != ',') ++end;
        std::string_view target = text.substr(at + marker.size(), end - at - marker.size());
        if (target.find('/') != std::string_view::npos || target.find('\\') != std::string_view::npos ||
            target.find("..") != std::string_view::npos || target.find('~') != std::string_view::npos)
            return true;
    }
    return false;
}

}  // namespace sluice::fuzz
