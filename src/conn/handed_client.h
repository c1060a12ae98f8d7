// A client on its way to another process (the online restart, `-R`; DESIGN §3): what a logged-in
// client between transactions is, short of its socket — who it is, its parameters, its cancel
// key, its named prepared statements — as one byte string the two processes exchange next to the
// descriptor itself (SCM_RIGHTS). Pure; unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pool/pool.h"
#include "util/result.h"

namespace sluice::conn {

// The server of a session, handed over with its client.
struct HandedServerState {
    std::string address;  // its host, as the pooler describes it ("127.0.0.1:5432", a socket path)
    int32_t backendPid = 0;
    int32_t backendKey = 0;
    std::vector<std::pair<std::string, std::string>> params;  // what PostgreSQL reported
    // Where a cancel for it goes (conn::CancelTarget): a unix socket, or an address.
    std::string cancelUnixPath;
    std::string cancelAddress;  // the sockaddr_storage's bytes (the same machine reads them)
    std::string cancelHostName;
    int32_t cancelPort = 0;
    int64_t connectedAtNs = 0;
};

struct HandedClient {
    using Params = std::vector<std::pair<std::string, std::string>>;
    struct PreparedStatement {
        std::string name;        // the client's name for it
        std::string query;
        std::string paramTypes;  // as Statement::paramTypes (kSqlStatement for SQL PREPARE)
        bool operator==(const PreparedStatement&) const = default;
    };

    std::string user;
    std::string database;
    int32_t cancelPid = 0;
    int32_t cancelKey = 0;
    Params wanted;                  // the parameters the client has chosen (what servers are set to)
    std::optional<Params> startup;  // those of its startup packet, when a SET changed them since
    std::vector<PreparedStatement> statements;
    // The keys its SCRAM login proved, when its pool's servers log in with them (pass-through):
    // the new process has no other way to log in for it.
    std::optional<pool::ScramPassthrough> scramKeys;
    int64_t connectedAtNs = 0;  // steady clock: CLOCK_MONOTONIC, the same in both processes

    // A session's server, which goes with it (its descriptor travels second).
    std::optional<HandedServerState> server;
};

std::string encodeHandedClient(const HandedClient& client);
// Refuses anything encodeHandedClient would not have made (a wrong version, a cut or overlong
// field, bytes left over).
Result<HandedClient> decodeHandedClient(std::string_view bytes);

}  // namespace sluice::conn
