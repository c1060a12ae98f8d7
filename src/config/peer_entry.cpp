#include "config/peer_entry.h"

#include "config/conn_string.h"
#include "config/value_parse.h"

namespace sluice::config {

Result<PeerEntry> parsePeerEntry(std::string_view id, std::string_view value) {
    PeerEntry entry;
    // PgBouncer accepts ids up to 65535 here (a key has room for 16 bits) though peer_id stops at
    // 16383; a file written for it must load.
    const auto number = parseInteger(id);
    if (!number || *number < 1 || *number > 65535)
        return Error{"peer id '" + std::string(id) + "' is not a number between 1 and 65535", ""};
    entry.id = static_cast<int>(*number);
    auto pairs = splitConnString(value);
    if (!pairs) return pairs.error();
    for (const auto& [key, text] : pairs.value()) {
        if (key == "host") {
            entry.host = text;
        } else if (key == "port") {
            const auto port = parseInteger(text);
            if (!port || *port < 1 || *port > 65535)
                return Error{"invalid port '" + text + "': expected a number between 1 and 65535", ""};
            entry.port = static_cast<int>(*port);
        } else if (key == "pool_size") {
            const auto size = parseCount(text);
            if (!size) return Error{"invalid pool_size '" + text + "': expected a whole number", ""};
            entry.poolSize = *size;
        } else {
            return Error{"unknown key '" + key + "'; allowed keys: host, port, pool_size", ""};
        }
    }
    if (entry.host.empty()) return Error{"host is missing", ""};
    if (entry.host.front() == '@')  // the libuv in use cannot connect to one
        return Error{"a unix socket in the abstract namespace ('" + entry.host + "') is not supported for peers; use a path", ""};
    return entry;
}

}  // namespace sluice::config
