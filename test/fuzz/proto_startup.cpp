// The first packet of a client connection (StartupMessage, SSLRequest, GSSENCRequest,
// CancelRequest), as parseStartupPacket reads it from anyone who reaches the port. Invariants:
// a packet that parses consumed no more than it was given; every proper prefix of it is
// NeedMore (the connection waits for the rest, never acts on half a packet); a refusal of the
// whole is never Ok on a prefix; and "database" is always there after a Startup.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_util.h"
#include "proto/startup.h"

using namespace sluice;

namespace {

proto::ParseStatus parse(const uint8_t* data, size_t size, uint32_t maxPacket, proto::StartupPacket& out,
                         size_t& consumed) {
    proto::ParseError err;
    consumed = 0;
    auto status = proto::parseStartupPacket(data, size, maxPacket, out, consumed, err);
    if (status == proto::ParseStatus::Error) FUZZ_CHECK(!err.message.empty() && err.sqlstate.size() == 5);
    return status;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // max_packet_size: the first byte picks a small or the default limit.
    const uint32_t maxPacket = size > 0 && (data[0] & 1) ? 64 : 2147483647;
    proto::StartupPacket packet;
    size_t consumed = 0;
    const auto status = parse(data, size, maxPacket, packet, consumed);
    if (status == proto::ParseStatus::Ok) {
        FUZZ_CHECK(consumed >= 8 && consumed <= size);
        if (packet.kind == proto::StartupKind::Startup) FUZZ_CHECK(packet.find("database") != nullptr);
        // The same packet cut short: never Ok, as the bytes that complete it are missing.
        for (size_t cut : {consumed - 1, consumed / 2, size_t{4}}) {
            if (cut >= consumed) continue;
            proto::StartupPacket partial;
            size_t partialConsumed = 0;
            FUZZ_CHECK(parse(data, cut, maxPacket, partial, partialConsumed) != proto::ParseStatus::Ok);
        }
        // Parsing again from the packet alone gives the same.
        proto::StartupPacket again;
        size_t againConsumed = 0;
        FUZZ_CHECK(parse(data, consumed, maxPacket, again, againConsumed) == proto::ParseStatus::Ok);
        FUZZ_CHECK(againConsumed == consumed && again.params == packet.params &&
                   again.protocolOptions == packet.protocolOptions);
    } else if (status == proto::ParseStatus::Error && size > 0) {
        // More bytes never repair a refused packet: the same prefix plus garbage is refused too.
        proto::StartupPacket more;
        size_t moreConsumed = 0;
        std::vector<uint8_t> longer(data, data + size);
        longer.resize(size + 16, 0x41);
        FUZZ_CHECK(parse(longer.data(), longer.size(), maxPacket, more, moreConsumed) == proto::ParseStatus::Error);
    }
    return 0;
}
