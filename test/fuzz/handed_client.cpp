// The state of a client handed over in an online restart (conn/handed_client.*), as the new
// process reads it from the old one. Invariants: whatever decodes encodes back to the same bytes
// (the layout has one spelling), and what encodeHandedClient makes always decodes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "conn/handed_client.h"
#include "fuzz_util.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    auto decoded = conn::decodeHandedClient(bytes);
    if (!decoded) {
        FUZZ_CHECK(!decoded.error().message.empty());
        return 0;
    }
    const std::string again = conn::encodeHandedClient(*decoded);
    FUZZ_CHECK(again == bytes);
    FUZZ_CHECK(conn::decodeHandedClient(again).ok());
    return 0;
}
