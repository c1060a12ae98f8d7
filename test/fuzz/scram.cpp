// The SCRAM-SHA-256 message parsers (auth/scram_message.*) through the real state machines:
// the first input byte picks a side, the rest is two messages split at the first NUL byte.
//   server side (ScramServer, a client logging in to the pooler): client-first, client-final;
//   client side (ScramClient in pass-through mode, the pooler logging in to a server):
//     server-first, server-final.
// The nonces are fixed by the test hooks ("fuzzclientnonce" / "fuzzservernonce", both in the
// dictionary) so the fuzzer can reach the proof checks. Invariants: a failure always says why,
// the attribute reader always makes progress, and a forged proof never authenticates.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/scram.h"
#include "auth/scram_keys.h"
#include "auth/scram_message.h"
#include "auth/secret.h"
#include "fuzz_util.h"

using namespace sluice;

namespace {

const auth::ScramSecret& secret() {
    static const auth::ScramSecret s = auth::makeScramSecret("pencil", "fuzzsaltfuzzsalt", 4096);
    return s;
}

// Reads every attribute of `message`; each step moves forward, and the loop ends.
void readAttributes(std::string_view message) {
    auth::ScramAttributeReader reader(message, "fuzz-message");
    std::string error;
    size_t last = 0;
    for (size_t step = 0; !reader.atEnd(); ++step) {
        FUZZ_CHECK(step <= message.size() + 1);
        (void)reader.peekName();
        auth::ScramAttribute attribute;
        if (!reader.next(attribute, error)) {
            FUZZ_CHECK(!error.empty());
            break;
        }
        FUZZ_CHECK(attribute.start < message.size() && (step == 0 || attribute.start > last));
        FUZZ_CHECK(attribute.value.data() >= message.data() &&
                   attribute.value.data() + attribute.value.size() <= message.data() + message.size());
        last = attribute.start;
    }
    int iterations = 0;
    if (auth::parseScramIterations(message, iterations))
        FUZZ_CHECK(iterations >= 1 && iterations <= auth::kMaxScramIterations);
    (void)auth::isScramPrintable(message);
}

void serverSide(uint8_t mode, std::string_view first, std::string_view final) {
    auth::ScramServer server(secret());
    server.setServerNonceForTesting("fuzzservernonce");
    if (mode & 2) server.offerChannelBinding(std::string(32, '\x5a'));
    std::string serverFirst, serverFinal, error;
    if (!server.handleClientFirst(first, serverFirst, error)) {
        FUZZ_CHECK(!error.empty());
        return;
    }
    FUZZ_CHECK(!serverFirst.empty());
    if (!server.handleClientFinal(final, serverFinal, error)) {
        FUZZ_CHECK(!error.empty() && !server.authenticated());
        return;
    }
    // Authenticated: the ClientKey the proof revealed must hash to the secret's StoredKey, so
    // only someone who knows the password (a real seed) gets here; a forged proof never does.
    FUZZ_CHECK(server.authenticated());
    FUZZ_CHECK(auth::scramStoredKey(server.clientKey()) == secret().storedKey);
    FUZZ_CHECK(serverFinal.rfind("v=", 0) == 0);
}

void clientSide(uint8_t mode, std::string_view first, std::string_view final) {
    auth::ScramKey clientKey{}, serverKey{};
    clientKey.fill(7);
    serverKey.fill(9);
    auth::ScramClient client = (mode & 2) ? auth::ScramClient::fromKeys(clientKey, serverKey, "fuzzsaltfuzzsalt", 4096)
                                          : auth::ScramClient::fromKeys(clientKey, serverKey);
    client.setNonceAndUserForTesting("fuzzclientnonce", (mode & 4) ? "alice" : "");
    (void)client.clientFirstMessage();
    std::string clientFinal, error;
    if (!client.handleServerFirst(first, clientFinal, error)) {
        FUZZ_CHECK(!error.empty());
        return;
    }
    FUZZ_CHECK(clientFinal.rfind("c=", 0) == 0);
    if (!client.verifyServerFinal(final, error)) {
        FUZZ_CHECK(!error.empty() && !client.serverVerified());
        return;
    }
    FUZZ_CHECK(client.serverVerified());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t mode = data[0];
    std::string_view rest = fuzz::asText(data + 1, size - 1);
    const size_t split = rest.find('\0');
    std::string_view first = rest.substr(0, split);
    std::string_view final = split == std::string_view::npos ? std::string_view() : rest.substr(split + 1);
    readAttributes(first);
    if (mode & 1) clientSide(mode, first, final);
    else serverSide(mode, first, final);
    return 0;
}
