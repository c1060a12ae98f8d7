// Framing of typed protocol messages (type byte + int32 length) and the big-endian
// integer helpers every reader and writer of the protocol uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace sluice::proto {

inline uint16_t readU16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t readU32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
inline int16_t readI16(const uint8_t* p) { return static_cast<int16_t>(readU16(p)); }
inline int32_t readI32(const uint8_t* p) { return static_cast<int32_t>(readU32(p)); }

inline void writeU16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
inline void writeU32(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}

// Appending forms, for building messages in a std::string used as a byte buffer.
inline void appendU16(std::string& out, uint16_t v) {
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v));
}
inline void appendU32(std::string& out, uint32_t v) {
    out.push_back(static_cast<char>(v >> 24));
    out.push_back(static_cast<char>(v >> 16));
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v));
}
inline void appendI16(std::string& out, int16_t v) { appendU16(out, static_cast<uint16_t>(v)); }
inline void appendI32(std::string& out, int32_t v) { appendU32(out, static_cast<uint32_t>(v)); }

// Size of the type byte plus the length field.
constexpr size_t kHeaderSize = 5;

struct MessageHeader {
    char type = 0;
    uint32_t length = 0;  // as on the wire: counts its own 4 bytes, not the type byte

    // Only meaningful once headerIsValid() said so; 0 for a malformed length < 4.
    uint32_t bodySize() const { return length >= 4 ? length - 4 : 0; }
    // Type byte included. Saturates instead of wrapping so that a hostile length of
    // 0xFFFFFFFF can never look like a complete message of 0 bytes.
    uint32_t totalSize() const {
        return length == std::numeric_limits<uint32_t>::max() ? length : length + 1;
    }
};

// The header at the start of data, or nullopt when fewer than 5 bytes are there.
// A length below 4 is malformed but is returned as is: callers decide with headerIsValid().
inline std::optional<MessageHeader> peekHeader(const uint8_t* data, size_t size) {
    if (size < kHeaderSize) return std::nullopt;
    return MessageHeader{static_cast<char>(data[0]), readU32(data + 1)};
}

// True when the length is possible (>= 4, fits a signed int32 as the protocol says) and
// the whole message, type byte included, is at most maxPacketSize bytes (max_packet_size).
inline bool headerIsValid(const MessageHeader& header, uint32_t maxPacketSize) {
    if (header.length < 4 || header.length > uint32_t{std::numeric_limits<int32_t>::max()}) return false;
    return uint64_t{header.length} + 1 <= maxPacketSize;
}

}  // namespace sluice::proto
