// What a client's BackendKeyData says about where the client lives (DESIGN §3, "Cancel keys"),
// so that a CancelRequest accepted anywhere finds it: the worker that owns it, and with peering
// (peer_id, [peers]) the process. The layout is PgBouncer 1.21+'s, so mixed groups interoperate.
//
// pid, as sent (big-endian bytes b0 b1 b2 b3):
//   b0      random, the sign bit clear (some clients mishandle a negative pid)
//   b1 b2   the peer id, low byte first, when peering; else random
//   b3      the owning worker's index
// key: random; when peering, its two low bits are a time to live: 3 when given, one less at each
// forward between peers, so a request bounced between misconfigured peers dies.
#pragma once

#include <cstdint>
#include <cstring>

namespace sluice::conn {

struct CancelKey {
    int32_t pid = 0;
    int32_t key = 0;
};

inline constexpr int32_t kCancelTtlMask = 0x3;

// `random` is 8 random bytes; peerId 0 means no peering.
inline CancelKey makeCancelKey(const uint8_t (&random)[8], int worker, int peerId) {
    uint32_t pid = 0, key = 0;
    std::memcpy(&pid, random, sizeof pid);
    std::memcpy(&key, random + sizeof pid, sizeof key);
    pid = (pid & 0x7fffff00u) | (static_cast<uint32_t>(worker) & 0xffu);
    if (peerId > 0) {
        pid = (pid & 0x7f0000ffu) | ((static_cast<uint32_t>(peerId) & 0xffu) << 16) |
              (((static_cast<uint32_t>(peerId) >> 8) & 0xffu) << 8);
        key |= kCancelTtlMask;
    }
    return {static_cast<int32_t>(pid), static_cast<int32_t>(key)};
}

// Both halves as one number: what a worker finds its client by.
inline uint64_t cancelKeyOf(int32_t pid, int32_t key) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(pid)) << 32) | static_cast<uint32_t>(key);
}

inline int cancelKeyWorker(int32_t pid) { return static_cast<int>(static_cast<uint32_t>(pid) & 0xffu); }
inline int cancelKeyPeer(int32_t pid) {
    const auto bits = static_cast<uint32_t>(pid);
    return static_cast<int>(((bits >> 16) & 0xffu) | (((bits >> 8) & 0xffu) << 8));
}
inline int cancelKeyTtl(int32_t key) { return key & kCancelTtlMask; }

}  // namespace sluice::conn
