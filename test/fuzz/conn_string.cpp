// The [databases] / [users] values (config/conn_string.*, database_entry.*, user_entry.*),
// multi-host lists included, and the `options` startup parameter (conn/startup_options.*).
// The first input byte picks the parser. Invariants: splitConnString's pairs, written back
// quoted, split to the same pairs; a database entry's host list and port list pair up (every
// port in 1..65535); a "*" fallback instantiates for any database name.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/conn_string.h"
#include "config/database_entry.h"
#include "config/user_entry.h"
#include "conn/startup_options.h"
#include "fuzz_util.h"

using namespace sluice;

namespace {

std::string quoted(const std::string& value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') out += c == '\'' ? '\'' : '\\';
        out += c;
    }
    return out + "'";
}

void splitRoundTrip(std::string_view text) {
    auto pairs = config::splitConnString(text);
    if (!pairs) {
        FUZZ_CHECK(!pairs.error().message.empty());
        return;
    }
    std::string written;
    for (const auto& [key, value] : *pairs) written += key + "=" + quoted(value) + " ";
    auto again = config::splitConnString(written);
    if (!again) {
        std::fprintf(stderr, "rewritten conn string refused: %s\n", again.error().message.c_str());
        FUZZ_CHECK(again.ok());
    }
    FUZZ_CHECK(*again == *pairs);
}

void databaseEntry(std::string_view name, std::string_view value) {
    auto entry = config::parseDatabaseEntry(name, value);
    if (!entry) {
        FUZZ_CHECK(!entry.error().message.empty());
        return;
    }
    FUZZ_CHECK(!entry->hosts.empty());
    for (const auto& host : entry->hosts) FUZZ_CHECK(host.port >= 1 && host.port <= 65535);
    FUZZ_CHECK(entry->port == entry->hosts.front().port);
    if (name == "*") {
        auto instance = config::instantiateFallback(*entry, "anydb");
        FUZZ_CHECK(instance.name == "anydb");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string_view text = fuzz::asText(data + 1, size - 1);
    switch (data[0] % 4) {
        case 0: splitRoundTrip(text); break;
        case 1: databaseEntry("db", text); break;
        case 2: databaseEntry("*", text); break;
        default: {
            (void)config::parseUserEntry("u", text);
            (void)conn::parseStartupOptions(text);
            break;
        }
    }
    return 0;
}
