// The pooler's side of a PostgreSQL login (DESIGN §2): answers the server's authentication
// requests (cleartext, md5, SCRAM-SHA-256 with a password or with pass-through keys) and says
// what to do with its answer to an SSLRequest. Shared by pooled server connections and the
// host prober, which logs in the same way; no IO.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "auth/scram.h"
#include "net/socket.h"
#include "pool/pool.h"
#include "util/result.h"

namespace sluice::conn {

struct ServerCredentials {
    std::string user;
    std::string password;  // plain, md5 hash, or empty
    // SCRAM pass-through: what a client of the pool proved (used when there is no plain password).
    std::optional<pool::ScramPassthrough> scramKeys;
};

class ServerAuthenticator {
public:
    explicit ServerAuthenticator(ServerCredentials credentials);
    ~ServerAuthenticator();

    // Appends the answer to one Authentication message to `out` (nothing when none is due,
    // e.g. AuthenticationOk). An error ends the login; its SQLSTATE says why.
    Status answer(const uint8_t* body, size_t size, std::string& out);

private:
    ServerCredentials credentials_;
    std::unique_ptr<auth::ScramClient> scram_;
};

// An ErrorResponse at login that says the host cannot take connections now (connection
// trouble, starting up, shutting down, crashed), not that the pool's settings are wrong.
bool hostCannotServe(std::string_view sqlstate);

// The first bytes of a login on a freshly connected socket: an SSLRequest when server TLS is
// configured and the socket is TCP (true: wait for the answer), else nothing (false: send
// the startup packet).
bool requestTls(net::Socket& socket, bool tlsConfigured);

// What the server's one-byte answer to an SSLRequest means under server_tls_sslmode.
enum class TlsAnswer { StartTls, GoOnPlain, Refuse };
TlsAnswer interpretTlsAnswer(char answer, std::string_view sslmode);

}  // namespace sluice::conn
