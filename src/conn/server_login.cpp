#include "conn/server_login.h"

#include <fmt/format.h>

#include "auth/md5_password.h"
#include "proto/builders.h"
#include "proto/codes.h"
#include "proto/parse.h"

namespace sluice::conn {

ServerAuthenticator::ServerAuthenticator(ServerCredentials credentials) : credentials_(std::move(credentials)) {}

ServerAuthenticator::~ServerAuthenticator() = default;

Status ServerAuthenticator::answer(const uint8_t* body, size_t size, std::string& out) {
    proto::AuthRequest request;
    if (!proto::parseAuthRequest(body, size, request))
        return Error{"server sent a malformed authentication request", std::string(proto::sqlstate::kProtocolViolation)};
    const std::string& password = credentials_.password;
    const bool passwordIsMd5 = auth::isMd5Hash(password);
    const bool passwordIsPlain = !password.empty() && !passwordIsMd5 && password.rfind("SCRAM-SHA-256$", 0) != 0;
    switch (request.code) {
        case proto::kAuthOk: return okStatus();
        case proto::kAuthCleartext:
            if (!passwordIsPlain) break;
            proto::appendPasswordMessage(out, password);
            return okStatus();
        case proto::kAuthMd5: {
            if (password.empty() || !(passwordIsPlain || passwordIsMd5)) break;
            std::string hash = passwordIsMd5 ? password : auth::md5PasswordHash(password, credentials_.user);
            proto::appendPasswordMessage(out, auth::md5SaltedResponse(hash, request.md5Salt));
            return okStatus();
        }
        case proto::kAuthSasl: {
            bool offered = false;
            for (const auto& mechanism : request.saslMechanisms) offered |= mechanism == "SCRAM-SHA-256";
            if (!offered) break;
            if (passwordIsPlain) {
                scram_ = std::make_unique<auth::ScramClient>(password);
            } else if (const auto& keys = credentials_.scramKeys) {
                // Pass-through with what a client of this pool proved (its stored secret must
                // be the server's: same salt and iterations, checked by the client).
                scram_ = std::make_unique<auth::ScramClient>(
                    auth::ScramClient::fromKeys(keys->clientKey, keys->serverKey, keys->salt, keys->iterations));
            } else {
                break;
            }
            proto::appendSaslInitialResponse(out, "SCRAM-SHA-256", scram_->clientFirstMessage());
            return okStatus();
        }
        case proto::kAuthSaslContinue: {
            std::string clientFinal, error;
            if (!scram_ || !scram_->handleServerFirst(request.data, clientFinal, error))
                return Error{"SCRAM exchange with the server failed: " + error,
                             std::string(proto::sqlstate::kProtocolViolation)};
            proto::appendSaslResponse(out, clientFinal);
            return okStatus();
        }
        case proto::kAuthSaslFinal: {
            std::string error;
            if (!scram_ || !scram_->verifyServerFinal(request.data, error))
                return Error{"SCRAM exchange with the server failed: " + error,
                             std::string(proto::sqlstate::kProtocolViolation)};
            scram_.reset();
            return okStatus();
        }
        default:
            return Error{fmt::format("server asked for an unsupported authentication method ({})", request.code),
                         std::string(proto::sqlstate::kFeatureNotSupported)};
    }
    // PgBouncer's words and SQLSTATE; what to do about it in DETAIL.
    return Error{"wrong password type", std::string(proto::sqlstate::kProtocolViolation),
                 fmt::format("the server asks user \"{}\" for a password the pooler does not have in a usable form "
                             "(set it in the database entry or auth_file, or store the server's SCRAM secret in "
                             "auth_file for pass-through)",
                             credentials_.user)};
}

bool hostCannotServe(std::string_view sqlstate) {
    return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03";
}

bool requestTls(net::Socket& socket, bool tlsConfigured) {
    if (!tlsConfigured || socket.isUnix()) return false;  // as libpq: no TLS over unix sockets
    std::string out;
    proto::appendSslRequest(out);
    socket.write(out);
    return true;
}

TlsAnswer interpretTlsAnswer(char answer, std::string_view sslmode) {
    if (answer == 'S') return TlsAnswer::StartTls;
    const bool required = sslmode == "require" || sslmode == "verify-ca" || sslmode == "verify-full";
    return answer == 'N' && !required ? TlsAnswer::GoOnPlain : TlsAnswer::Refuse;
}

}  // namespace sluice::conn
