#include "auth/scram.h"

#include <openssl/crypto.h>

#include <utility>

#include "auth/crypto_util.h"
#include "auth/scram_message.h"

namespace sluice::auth {

namespace {

constexpr size_t kServerNonceBytes = 18;  // PostgreSQL's SCRAM_RAW_NONCE_LEN

constexpr std::string_view kBindingFlag = "p=tls-server-end-point";

// Reads the GS2 header ("n,,", "y,," or "p=tls-server-end-point,,") at the start of
// client-first. On success `headerLength` covers it including the second comma.
bool readGs2Header(std::string_view message, bool offered, size_t& headerLength, bool& bound, std::string& error) {
    if (message.empty()) {
        error = "malformed SCRAM client-first-message: empty";
        return false;
    }
    size_t flagLength = 1;
    bound = false;
    switch (message[0]) {
        case 'n': break;
        case 'y':
            // "I could bind but you did not offer it": over TLS we did, so -PLUS was stripped.
            if (offered) {
                error = "SCRAM channel binding negotiation error: the client supports it but thinks the server does not";
                return false;
            }
            break;
        case 'p':
            if (!offered) {
                error = "client selected SCRAM channel binding, but the server did not offer SCRAM-SHA-256-PLUS";
                return false;
            }
            if (message.substr(0, kBindingFlag.size()) != kBindingFlag) {
                error = "unsupported SCRAM channel binding type (only tls-server-end-point)";
                return false;
            }
            flagLength = kBindingFlag.size();
            bound = true;
            break;
        default:
            error = "malformed SCRAM client-first-message: unexpected channel binding flag";
            return false;
    }
    if (message.size() < flagLength + 1 || message[flagLength] != ',') {
        error = "malformed SCRAM client-first-message: comma expected after the channel binding flag";
        return false;
    }
    if (message.size() >= flagLength + 2 && message[flagLength + 1] == 'a') {
        error = "client uses a SCRAM authorization identity, which is not supported";
        return false;
    }
    if (message.size() < flagLength + 2 || message[flagLength + 1] != ',') {
        error = "malformed SCRAM client-first-message: comma expected after the authorization identity";
        return false;
    }
    headerLength = flagLength + 2;
    return true;
}

// Skips extension attributes up to (not including) one named `stopAt`, or to the end when
// stopAt is 0. Standard attribute names are not extensions.
bool skipExtensions(ScramAttributeReader& reader, char stopAt, std::string& error) {
    while (!reader.atEnd() && (stopAt == 0 || reader.peekName() != stopAt)) {
        ScramAttribute attribute;
        if (!reader.next(attribute, error)) return false;
        if (isStandardScramAttribute(attribute.name)) {
            error = reader.malformed(std::string("unexpected attribute '") + attribute.name + "'");
            return false;
        }
    }
    return true;
}

}  // namespace

ScramServer::ScramServer(ScramSecret secret) : secret_(std::move(secret)) {}

ScramServer::~ScramServer() {
    OPENSSL_cleanse(clientKey_.data(), clientKey_.size());
    OPENSSL_cleanse(secret_.storedKey.data(), secret_.storedKey.size());
    OPENSSL_cleanse(secret_.serverKey.data(), secret_.serverKey.size());
}

void ScramServer::setServerNonceForTesting(std::string nonce) { serverNoncePart_ = std::move(nonce); }

bool ScramServer::fail(std::string& error, std::string message) {
    state_ = State::Failed;
    error = std::move(message);
    return false;
}

bool ScramServer::handleClientFirst(std::string_view clientFirst, std::string& serverFirst, std::string& error) {
    if (state_ != State::Initial) return fail(error, "SCRAM client-first-message received out of order");
    if (secret_.iterations < 1 || secret_.salt.empty()) return fail(error, "invalid stored SCRAM secret");
    if (!checkScramMessage(clientFirst, "client-first-message", error)) return fail(error, error);

    size_t headerLength = 0;
    if (!readGs2Header(clientFirst, !channelBindingData_.empty(), headerLength, bound_, error))
        return fail(error, error);
    gs2Header_ = std::string(clientFirst.substr(0, headerLength));
    const std::string_view bare = clientFirst.substr(headerLength);

    ScramAttributeReader reader(bare, "client-first-message");
    if (reader.peekName() == 'm') return fail(error, "client requires an unsupported SCRAM extension");
    std::string_view user, clientNonce;
    if (!reader.expect('n', user, error) || !reader.expect('r', clientNonce, error)) return fail(error, error);
    if (clientNonce.empty() || !isScramPrintable(clientNonce))
        return fail(error, reader.malformed("nonce is empty or has non-printable characters"));
    // RFC 5802 allows extensions here; PostgreSQL ignores them, and so do we.
    if (!skipExtensions(reader, 0, error)) return fail(error, error);

    if (serverNoncePart_.empty()) serverNoncePart_ = base64Encode(randomBytes(kServerNonceBytes));
    clientUser_ = std::string(user);
    clientFirstBare_ = std::string(bare);
    combinedNonce_ = std::string(clientNonce) + serverNoncePart_;
    serverFirst_ = "r=" + combinedNonce_ + ",s=" + base64Encode(secret_.salt) + ",i=" +
                   std::to_string(secret_.iterations);
    serverFirst = serverFirst_;
    state_ = State::SentFirst;
    return true;
}

bool ScramServer::handleClientFinal(std::string_view clientFinal, std::string& serverFinal, std::string& error) {
    if (state_ != State::SentFirst) return fail(error, "SCRAM client-final-message received out of order");
    if (!checkScramMessage(clientFinal, "client-final-message", error)) return fail(error, error);

    ScramAttributeReader reader(clientFinal, "client-final-message");
    std::string_view bindingText, nonce;
    if (!reader.expect('c', bindingText, error)) return fail(error, error);
    // The attribute carries the gs2 header again (so a client cannot claim one binding mode in
    // client-first and another here) and, when bound, the hash of the certificate it saw.
    std::string binding;
    if (!base64Decode(bindingText, binding))
        return fail(error, reader.malformed("channel binding attribute is not valid base64"));
    const std::string expected = bound_ ? gs2Header_ + channelBindingData_ : gs2Header_;
    if (!constantTimeEquals(binding, expected))
        return fail(error, "SCRAM channel binding check failed: the channel binding attribute does not match the "
                           "GS2 header");
    if (!reader.expect('r', nonce, error)) return fail(error, error);
    if (nonce != combinedNonce_) return fail(error, "SCRAM nonce mismatch in client-final-message");
    if (!skipExtensions(reader, 'p', error)) return fail(error, error);

    ScramAttribute proofAttribute;
    if (reader.atEnd()) return fail(error, reader.malformed("attribute 'p' (the client proof) is missing"));
    if (!reader.next(proofAttribute, error)) return fail(error, error);
    if (!reader.atEnd()) return fail(error, reader.malformed("unexpected data after the client proof"));
    std::string proof;
    if (!base64Decode(proofAttribute.value, proof) || proof.size() != kSha256Length)
        return fail(error, reader.malformed("client proof is not 32 bytes of base64"));

    // start > 0: 'c' came first, so the proof is preceded by a comma we leave out.
    const std::string_view withoutProof = clientFinal.substr(0, proofAttribute.start - 1);
    std::string authMessage = clientFirstBare_;
    authMessage += ',';
    authMessage += serverFirst_;
    authMessage += ',';
    authMessage += withoutProof;

    // ClientKey = proof XOR ClientSignature; the client knows the password iff H(ClientKey)
    // is the StoredKey. Compared in constant time so timing leaks nothing about StoredKey.
    const ScramKey signature = scramSignature(secret_.storedKey, authMessage);
    ScramKey candidate{};
    for (size_t i = 0; i < candidate.size(); ++i) candidate[i] = static_cast<uint8_t>(proof[i]) ^ signature[i];
    const ScramKey candidateStoredKey = scramStoredKey(candidate);
    if (!constantTimeEquals(asStringView(candidateStoredKey), asStringView(secret_.storedKey))) {
        OPENSSL_cleanse(candidate.data(), candidate.size());
        return fail(error, "SCRAM proof is wrong: password authentication failed");
    }
    clientKey_ = candidate;
    serverFinal = "v=" + base64Encode(asStringView(scramSignature(secret_.serverKey, authMessage)));
    state_ = State::Done;
    return true;
}

}  // namespace sluice::auth
