// One line of [peers]: `id = host=... port=... pool_size=...` (PgBouncer 1.21+'s peering): where
// a cancel request whose key names process `id` is forwarded (DESIGN §3, "Peers").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace sluice::config {

struct PeerEntry {
    int id = 0;
    // A host name or address, or a unix socket directory (starting with '/'). PgBouncer's third
    // form, '@' for the abstract namespace, is refused: the libuv in use cannot connect to one.
    std::string host;
    int port = 6432;
    std::optional<int> poolSize;  // cancels in flight to it at once; default_pool_size when unset
};

// Errors carry no file:line; the loader adds it.
Result<PeerEntry> parsePeerEntry(std::string_view id, std::string_view value);

}  // namespace sluice::config
