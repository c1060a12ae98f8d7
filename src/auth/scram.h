// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it ("SASL Authentication" in the
// protocol chapter): the user name in client-first is ignored (libpq sends "n=,"), the server
// nonce extends the client's, and a failed login ends with an ErrorResponse rather than "e=".
// Channel binding (SCRAM-SHA-256-PLUS, gs2 flag "p") is not supported yet: the client speaks
// flag "n" or "y", and the server refuses "p" because it never advertises -PLUS.
//
// Both classes are single-use state machines; every method returns false with a readable
// `error` on malformed, out-of-order or forged input, after which the exchange is dead.
#pragma once

#include <string>
#include <string_view>

#include "auth/scram_keys.h"
#include "auth/secret.h"

namespace sluice::auth {

inline constexpr std::string_view kScramSha256 = "SCRAM-SHA-256";

// The gs2 flag the client sends when it does not use channel binding.
enum class ScramChannelBinding {
    NotSupported,               // "n": this client cannot do channel binding
    ClientSupportsServerDidNot  // "y": we could, but the server did not offer -PLUS (plain TCP)
};

// The pooler logging in to PostgreSQL.
class ScramClient {
public:
    explicit ScramClient(std::string password,
                         ScramChannelBinding binding = ScramChannelBinding::NotSupported);

    // Pass-through: log in with the ClientKey a client proved to ScramServer and the ServerKey
    // of the stored secret, without knowing the password. Those keys only fit a server whose
    // secret has the same salt and iteration count; give them (the stored secret's) to get a
    // clear error instead of an authentication failure when the server's secret differs.
    static ScramClient fromKeys(const ScramKey& clientKey, const ScramKey& serverKey,
                                ScramChannelBinding binding = ScramChannelBinding::NotSupported);
    static ScramClient fromKeys(const ScramKey& clientKey, const ScramKey& serverKey, std::string expectedSalt,
                                int expectedIterations,
                                ScramChannelBinding binding = ScramChannelBinding::NotSupported);

    ScramClient(ScramClient&&) noexcept = default;
    ScramClient& operator=(ScramClient&&) noexcept = default;
    ScramClient(const ScramClient&) = delete;
    ScramClient& operator=(const ScramClient&) = delete;
    ~ScramClient();

    // Test hook: fixes the nonce and the user name sent in client-first (normally 24 random
    // bytes in base64, and empty as libpq sends it). Call before clientFirstMessage().
    void setNonceAndUserForTesting(std::string nonce, std::string user);

    // "n,,n=,r=<nonce>": the SASLInitialResponse payload for mechanism SCRAM-SHA-256.
    std::string clientFirstMessage();

    // Checks the server's nonce extends ours, the salt decodes and 1 <= iterations <= 10
    // million; then runs PBKDF2 (password mode) and writes the SASLResponse payload.
    bool handleServerFirst(std::string_view serverFirst, std::string& clientFinal, std::string& error);

    // "v=<signature>" must match what the server's key gives; "e=<error>" is a refusal.
    bool verifyServerFinal(std::string_view serverFinal, std::string& error);

    // The server proved it knows the secret (verifyServerFinal succeeded).
    bool serverVerified() const { return state_ == State::Done; }

private:
    enum class State { Initial, SentFirst, SentFinal, Done, Failed };

    explicit ScramClient(ScramChannelBinding binding);
    bool fail(std::string& error, std::string message);

    State state_ = State::Initial;
    ScramChannelBinding binding_;
    bool fromPassword_ = true;
    std::string password_;
    ScramKey clientKey_{};  // pass-through mode
    ScramKey serverKey_{};
    std::string expectedSalt_;  // pass-through mode, empty when unchecked
    int expectedIterations_ = 0;

    std::string nonce_;
    std::string user_;
    std::string clientFirstBare_;
    ScramKey expectedServerSignature_{};
};

// The pooler authenticating a client against a stored secret. The secret is already parsed,
// so a login costs a few HMACs, not a PBKDF2 run.
class ScramServer {
public:
    explicit ScramServer(ScramSecret secret);

    ScramServer(ScramServer&&) noexcept = default;
    ScramServer& operator=(ScramServer&&) noexcept = default;
    ScramServer(const ScramServer&) = delete;
    ScramServer& operator=(const ScramServer&) = delete;
    ~ScramServer();

    // Test hook: the part of the nonce the server appends (normally 18 random bytes in base64).
    void setServerNonceForTesting(std::string nonce);
    // Over TLS: SCRAM-SHA-256-PLUS with tls-server-end-point (RFC 5929), `certificateHash` being
    // the hash of our certificate. A client may then bind ('p'); one that says it could but
    // thinks we cannot ('y') is refused, as that means someone removed -PLUS on the way.
    void offerChannelBinding(std::string certificateHash) { channelBindingData_ = std::move(certificateHash); }

    // Parses the SASLInitialResponse payload; writes the AuthenticationSASLContinue payload.
    bool handleClientFirst(std::string_view clientFirst, std::string& serverFirst, std::string& error);

    // Checks the channel-binding attribute repeats the gs2 header, the nonce is the combined
    // one and the proof matches StoredKey (in constant time); writes the
    // AuthenticationSASLFinal payload ("v=..."). On false, send an ErrorResponse (28P01).
    bool handleClientFinal(std::string_view clientFinal, std::string& serverFinal, std::string& error);

    bool authenticated() const { return state_ == State::Done; }
    // After success: the ClientKey the client proved it has, for ScramClient::fromKeys.
    const ScramKey& clientKey() const { return clientKey_; }
    // The (unverified, informational) user name from client-first; PostgreSQL ignores it too.
    const std::string& clientUserName() const { return clientUser_; }

private:
    enum class State { Initial, SentFirst, Done, Failed };

    bool fail(std::string& error, std::string message);

    State state_ = State::Initial;
    ScramSecret secret_;
    std::string serverNoncePart_;  // set by the test hook, else generated
    std::string gs2Header_;
    std::string channelBindingData_;  // empty: no channel binding offered
    bool bound_ = false;              // the client chose to bind (flag p)
    std::string clientUser_;
    std::string clientFirstBare_;
    std::string serverFirst_;
    std::string combinedNonce_;
    ScramKey clientKey_{};
};

}  // namespace sluice::auth
