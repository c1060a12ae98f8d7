#include "auth/scram.h"

#include <openssl/crypto.h>

#include <utility>

#include "auth/crypto_util.h"
#include "auth/scram_message.h"

namespace sluice::auth {

namespace {

constexpr size_t kClientNonceBytes = 24;

std::string_view gs2HeaderFor(ScramChannelBinding binding) {
    return binding == ScramChannelBinding::ClientSupportsServerDidNot ? "y,," : "n,,";
}

}  // namespace

ScramClient::ScramClient(ScramChannelBinding binding) : binding_(binding) {}

ScramClient::ScramClient(std::string password, ScramChannelBinding binding) : binding_(binding) {
    password_ = std::move(password);
}

ScramClient ScramClient::fromKeys(const ScramKey& clientKey, const ScramKey& serverKey, ScramChannelBinding binding) {
    ScramClient client(binding);
    client.fromPassword_ = false;
    client.clientKey_ = clientKey;
    client.serverKey_ = serverKey;
    return client;
}

ScramClient ScramClient::fromKeys(const ScramKey& clientKey, const ScramKey& serverKey, std::string expectedSalt,
                                  int expectedIterations, ScramChannelBinding binding) {
    ScramClient client = fromKeys(clientKey, serverKey, binding);
    client.expectedSalt_ = std::move(expectedSalt);
    client.expectedIterations_ = expectedIterations;
    return client;
}

ScramClient::~ScramClient() {
    // Keys and password are as good as the password itself; don't leave them in freed memory.
    if (!password_.empty()) OPENSSL_cleanse(password_.data(), password_.size());
    OPENSSL_cleanse(clientKey_.data(), clientKey_.size());
    OPENSSL_cleanse(serverKey_.data(), serverKey_.size());
}

void ScramClient::setNonceAndUserForTesting(std::string nonce, std::string user) {
    nonce_ = std::move(nonce);
    user_ = std::move(user);
}

bool ScramClient::fail(std::string& error, std::string message) {
    state_ = State::Failed;
    error = std::move(message);
    return false;
}

std::string ScramClient::clientFirstMessage() {
    if (nonce_.empty()) nonce_ = base64Encode(randomBytes(kClientNonceBytes));
    clientFirstBare_ = "n=" + user_ + ",r=" + nonce_;
    state_ = State::SentFirst;
    return std::string(gs2HeaderFor(binding_)) + clientFirstBare_;
}

bool ScramClient::handleServerFirst(std::string_view serverFirst, std::string& clientFinal, std::string& error) {
    if (state_ != State::SentFirst) return fail(error, "SCRAM server-first-message received out of order");
    if (!checkScramMessage(serverFirst, "server-first-message", error)) return fail(error, error);

    ScramAttributeReader reader(serverFirst, "server-first-message");
    if (reader.peekName() == 'm') return fail(error, "server requires an unsupported SCRAM extension");
    std::string_view nonce, saltText, iterationsText;
    if (!reader.expect('r', nonce, error) || !reader.expect('s', saltText, error) ||
        !reader.expect('i', iterationsText, error))
        return fail(error, error);
    if (!reader.atEnd()) return fail(error, reader.malformed("unexpected data after the iteration count"));

    // The server must extend our nonce with its own part: a reply that drops or changes ours
    // belongs to another exchange (or an attacker replaying one).
    if (nonce.size() <= nonce_.size() || nonce.substr(0, nonce_.size()) != nonce_)
        return fail(error, "SCRAM nonce mismatch: the server's nonce does not extend the client's");
    if (!isScramPrintable(nonce)) return fail(error, reader.malformed("non-printable characters in nonce"));

    std::string salt;
    if (!base64Decode(saltText, salt) || salt.empty())
        return fail(error, reader.malformed("salt is not valid non-empty base64"));
    int iterations = 0;
    if (!parseScramIterations(iterationsText, iterations))
        return fail(error, reader.malformed("iteration count \"" + std::string(iterationsText) +
                                            "\" is not a number from 1 to " + std::to_string(kMaxScramIterations)));

    ScramKey clientKey, storedKey, serverKey;
    if (fromPassword_) {
        const ScramKeys keys = deriveScramKeys(password_, salt, iterations);
        clientKey = keys.clientKey;
        storedKey = keys.storedKey;
        serverKey = keys.serverKey;
    } else {
        if ((!expectedSalt_.empty() && salt != expectedSalt_) ||
            (expectedIterations_ > 0 && iterations != expectedIterations_))
            return fail(error,
                        "the server's SCRAM secret (salt or iteration count) differs from the stored one, so the "
                        "client's keys cannot log in; was the password changed on the server?");
        clientKey = clientKey_;
        storedKey = scramStoredKey(clientKey_);
        serverKey = serverKey_;
    }

    std::string withoutProof = "c=" + base64Encode(gs2HeaderFor(binding_)) + ",r=";
    withoutProof += nonce;
    std::string authMessage = clientFirstBare_;
    authMessage += ',';
    authMessage += serverFirst;
    authMessage += ',';
    authMessage += withoutProof;

    const ScramKey proof = xorKeys(clientKey, scramSignature(storedKey, authMessage));
    expectedServerSignature_ = scramSignature(serverKey, authMessage);
    OPENSSL_cleanse(clientKey.data(), clientKey.size());

    clientFinal = std::move(withoutProof);
    clientFinal += ",p=";
    clientFinal += base64Encode(asStringView(proof));
    state_ = State::SentFinal;
    return true;
}

bool ScramClient::verifyServerFinal(std::string_view serverFinal, std::string& error) {
    if (state_ != State::SentFinal) return fail(error, "SCRAM server-final-message received out of order");
    if (!checkScramMessage(serverFinal, "server-final-message", error)) return fail(error, error);

    ScramAttributeReader reader(serverFinal, "server-final-message");
    if (reader.peekName() == 'e') {
        ScramAttribute attribute;
        if (!reader.next(attribute, error)) return fail(error, error);
        return fail(error, "server rejected SCRAM authentication: " + std::string(attribute.value));
    }
    std::string_view verifierText;
    if (!reader.expect('v', verifierText, error)) return fail(error, error);
    if (!reader.atEnd()) return fail(error, reader.malformed("unexpected data after the server signature"));

    std::string verifier;
    if (!base64Decode(verifierText, verifier) || verifier.size() != kSha256Length)
        return fail(error, reader.malformed("server signature is not 32 bytes of base64"));
    if (!constantTimeEquals(verifier, asStringView(expectedServerSignature_)))
        return fail(error, "SCRAM server signature is wrong: the server does not know the password");
    state_ = State::Done;
    return true;
}

}  // namespace sluice::auth
