// auth_type = hba: the pg_hba.conf parser and its matcher (auth/hba.*), and the pg_ident.conf
// maps of auth_ident_file. The first input byte picks which file the rest is. `@file` names
// resolve against this target's corpus directory; inputs naming an absolute path or a parent
// directory are skipped. Invariants: a parsed file matches every kind of request without
// trouble, and the method of a match is one of those the parser accepts or "reject" with line 0.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "auth/hba.h"
#include "fuzz_util.h"

using namespace sluice;

#ifndef SLUICE_FUZZ_CORPUS_DIR
#define SLUICE_FUZZ_CORPUS_DIR "."
#endif

namespace {

sockaddr_storage address(const char* text) {
    sockaddr_storage out{};
    auto* in4 = reinterpret_cast<sockaddr_in*>(&out);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
    if (inet_pton(AF_INET, text, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
    } else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
    }
    return out;
}

void matchAll(const auth::HbaRules& rules) {
    static const char* const kAddresses[] = {"127.0.0.1", "10.1.2.3", "::1", "::ffff:192.168.0.1", "fe80::1"};
    static const char* const kNames[] = {"app", "postgres", "all", "Alice"};
    for (int local = 0; local < 2; ++local)
        for (const char* addr : kAddresses)
            for (const char* name : kNames) {
                auth::HbaRules::Request request;
                request.isUnix = local;
                request.tls = name[0] == 'p';
                request.replication = name[0] == 'a' && name[1] == 'l';
                request.database = name;
                request.user = kNames[(std::strlen(addr) + std::strlen(name)) % 4];
                request.address = address(addr);
                auto match = rules.match(request);
                FUZZ_CHECK(!match.method.empty());
                FUZZ_CHECK(match.line >= 0);
                if (match.line == 0) FUZZ_CHECK(match.method == "reject");
                if (local) break;  // the address does not matter
            }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string_view text = fuzz::asText(data + 1, size - 1);
    if (data[0] & 1) {
        // pg_ident.conf: its system names may be regular expressions, which std::regex compiles
        // and runs by recursion; keep the inputs short, as real maps are.
        if (text.size() > 512) return 0;
        auto maps = auth::IdentMaps::parse(text, SLUICE_FUZZ_CORPUS_DIR "/hba/pg_ident.conf");
        if (!maps) {
            FUZZ_CHECK(!maps.error().message.empty());
            return 0;
        }
        // Matching is left out when a map has a regular expression: libstdc++'s std::regex
        // backtracks exponentially on patterns like "/^(.*)*@x" (found by this target; the
        // file is the administrator's; reported, not fixed), which only times the fuzzer out.
        if (text.find('/') != std::string_view::npos) return 0;
        for (const char* map : {"omicron", "certs", "m"})
            for (const char* system : {"bryanh", "alice@example.com", "postgres"})
                (void)maps->allows(map, system, "alice");
        return 0;
    }
    if (fuzz::namesOutsideFile(text, "@")) return 0;
    auto rules = auth::HbaRules::parse(text, SLUICE_FUZZ_CORPUS_DIR "/hba/pg_hba.conf");
    if (!rules) {
        FUZZ_CHECK(!rules.error().message.empty());
        return 0;
    }
    matchAll(*rules);
    return 0;
}
