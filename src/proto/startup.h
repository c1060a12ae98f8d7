// The first packet of a client connection: StartupMessage, SSLRequest, GSSENCRequest or
// CancelRequest. Unlike every later message it has no type byte: int32 length, int32 code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::proto {

enum class StartupKind { Startup, SslRequest, GssEncRequest, CancelRequest };

struct StartupPacket {
    StartupKind kind = StartupKind::Startup;
    uint16_t major = 0, minor = 0;  // requested protocol version (Startup only)
    // name/value pairs in the order sent, "_pq_." options excluded; "database" is always
    // present after a successful parse (PostgreSQL defaults it to the user name).
    std::vector<std::pair<std::string, std::string>> params;
    // Names of "_pq_."-prefixed protocol options; we support none, so they all go back
    // to the client in NegotiateProtocolVersion.
    std::vector<std::string> protocolOptions;
    int32_t cancelPid = 0, cancelKey = 0;  // CancelRequest only

    // The value of a startup parameter, or nullptr when it was not sent.
    const std::string* find(std::string_view name) const;
};

enum class ParseStatus { NeedMore, Ok, Error };

// What to tell the client (in a FATAL ErrorResponse) before closing the connection.
struct ParseError {
    std::string sqlstate;
    std::string message;
};

// Parses the packet at the start of data. NeedMore until the whole packet is there;
// Ok fills `out` and sets `consumed` to the packet's length; Error fills `err`.
// A bad length, code or version is reported as soon as the bytes that show it arrive,
// so a hostile peer cannot make us wait for (and buffer) a packet we will refuse.
// The length limit is min(maxPacketSize, 10000): PostgreSQL's own cap for this packet.
ParseStatus parseStartupPacket(const uint8_t* data, size_t size, uint32_t maxPacketSize, StartupPacket& out,
                               size_t& consumed, ParseError& err);

}  // namespace sluice::proto
