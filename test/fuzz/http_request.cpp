// The metrics endpoint's request parsing (metrics/http_request.*, what HttpEndpoint feeds the
// bytes a client sends), within the endpoint's 8 KiB request limit. The first input byte sets
// the size of the pieces the rest arrives in, as reads off a socket would cut it. Invariants:
// the verdict, method and path do not depend on how the bytes were cut; a complete request
// has a method; bytes after a verdict change nothing.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "metrics/http_endpoint.h"
#include "metrics/http_request.h"

using namespace sluice;
using metrics::HttpRequestParser;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const size_t piece = data[0] % 64 + 1;
    const char* text = reinterpret_cast<const char*>(data + 1);
    const size_t length = std::min(size - 1, metrics::HttpEndpoint::kMaxRequestBytes);

    HttpRequestParser whole;
    const auto verdict = whole.feed(text, length);
    if (verdict == HttpRequestParser::State::Complete) FUZZ_CHECK(!whole.method().empty());

    HttpRequestParser cut;
    for (size_t pos = 0; pos < length; pos += piece) cut.feed(text + pos, std::min(piece, length - pos));
    FUZZ_CHECK(cut.state() == verdict);
    if (verdict == HttpRequestParser::State::Complete)
        FUZZ_CHECK(cut.method() == whole.method() && cut.path() == whole.path());

    // After a verdict, more bytes (a pipelined request, garbage) change nothing.
    if (verdict != HttpRequestParser::State::Incomplete) {
        const std::string method = whole.method(), path = whole.path();
        FUZZ_CHECK(whole.feed("GET /x HTTP/1.1\r\n\r\n", 19) == verdict);
        FUZZ_CHECK(whole.method() == method && whole.path() == path);
    }
    return 0;
}
