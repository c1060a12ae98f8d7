// Prepared statements in transaction pooling (conn/prepared_statements.*), structure-aware:
// the input is a script of steps — client messages (Parse, Bind, Describe, Close, Sync,
// Execute, Flush, a simple Query with or without PREPARE/EXECUTE/DEALLOCATE, a raw message of
// any type and body), server replies of any type, the client moving to the other of two
// servers between transactions, and a PQprepare-style batch answered by answerParsesLocally —
// fed to PreparedRelay as ServerConn and ClientConn feed it. Invariants: everything the relay
// sends to the server or answers the client is whole, well-framed messages; a server never
// holds more statements than max_prepared_statements; a batch answered locally is answered
// whole and ends with ReadyForQuery.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "conn/prepared_statements.h"
#include "fuzz_util.h"
#include "proto/builders.h"
#include "proto/codes.h"
#include "proto/extended.h"
#include "proto/header.h"

using namespace sluice;
using conn::PreparedRelay;
using fuzz::checkFramed;

namespace {

constexpr size_t kCapacity = 3;


std::string name(fuzz::Bytes& in) {
    switch (in.byte() % 6) {
        case 0: return "";
        case 1: return "s1";
        case 2: return "s2";
        case 3: return "Mixed Case";
        case 4: return "sluice_1";  // a client using the pooler's own names
        default: return in.string(16);
    }
}

std::string query(fuzz::Bytes& in) {
    switch (in.byte() % 4) {
        case 0: return "SELECT 1";
        case 1: return "SELECT $1::int";
        case 2: return "SELECT 2";
        default: return in.string(32);
    }
}

std::string paramTypes(fuzz::Bytes& in) {
    switch (in.byte() % 3) {
        case 0: return std::string("\0\0", 2);
        case 1: return std::string("\0\1\0\0\0\x17", 6);
        default: return in.string(8);
    }
}

std::string sqlQuery(fuzz::Bytes& in) {
    switch (in.byte() % 8) {
        case 0: return "PREPARE " + name(in) + " AS " + query(in);
        case 1: return "EXECUTE " + name(in);
        case 2: return "EXECUTE " + name(in) + "(1)";
        case 3: return "DEALLOCATE " + name(in);
        case 4: return "DEALLOCATE ALL";
        case 5: return "DISCARD ALL";
        case 6: return "SELECT 1";
        default: return in.string(48);
    }
}

// The body a server reply of `type` carries (what fromServer reads: ErrorResponse, CommandComplete).
std::string serverReply(char type, fuzz::Bytes& in) {
    std::string out;
    switch (type) {
        case proto::msg::kErrorResponse: proto::appendErrorResponse(out, "ERROR", "42601", "syntax error"); break;
        case proto::msg::kCommandComplete: {
            static const char* const kTags[] = {"SELECT 1", "DISCARD ALL", "DEALLOCATE ALL", "PREPARE", "DEALLOCATE"};
            const uint8_t pick = in.byte();
            if (pick % 6 == 5) proto::MessageBuilder(out, 'C').addString(in.string(16));
            else proto::appendCommandComplete(out, kTags[pick % 6]);
            break;
        }
        case proto::msg::kReadyForQuery: proto::appendReadyForQuery(out, "ITE"[in.byte() % 3]); break;
        default: proto::MessageBuilder(out, type).addBytes(in.string(8)); break;
    }
    return out;
}

struct Server {
    conn::ServerStatements statements;
    std::unique_ptr<PreparedRelay> relay;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Bytes in(data, size);
    uint64_t ids = 0;
    conn::StatementCatalog catalog([&ids] { return ++ids; });
    pool::PoolStats stats;
    Server servers[2];
    for (auto& server : servers)
        server.relay = std::make_unique<PreparedRelay>(catalog, server.statements, kCapacity, stats);
    conn::ClientStatements client;
    int linked = 0;
    char status = 'I';

    for (int step = 0; step < 256 && !in.empty(); ++step) {
        PreparedRelay& relay = *servers[linked].relay;
        std::string message, toServer, toClient;
        const uint8_t op = in.byte();
        switch (op % 16) {
            case 0: proto::appendParse(message, name(in), query(in), paramTypes(in)); break;
            case 1: proto::appendBind(message, name(in), name(in), std::string("\0\0\0\0\0\0", 6)); break;
            case 2: proto::appendDescribe(message, "SPX"[in.byte() % 3], name(in)); break;
            case 3: proto::appendClose(message, "SPX"[in.byte() % 3], name(in)); break;
            case 4: proto::appendSync(message); break;
            case 5: proto::MessageBuilder(message, proto::msg::kExecute).addString("").addInt32(0); break;
            case 6: proto::MessageBuilder(message, proto::msg::kFlush); break;
            case 7: proto::appendQuery(message, sqlQuery(in)); break;
            case 8: {  // any client message, any body
                const char type = static_cast<char>(in.byte());
                proto::MessageBuilder(message, type).addBytes(in.string(24));
                break;
            }
            case 9: {  // the client moves to the other server, between transactions only
                if (relay.idle() && status == 'I') linked ^= 1;
                continue;
            }
            case 10: {  // a PQprepare batch while between transactions: maybe answered locally
                if (!relay.idle() || status != 'I') continue;
                std::string batch;
                const int parses = in.byte() % 3;
                for (int i = 0; i < parses; ++i) proto::appendParse(batch, name(in), query(in), paramTypes(in));
                if (in.byte() & 1) proto::appendSync(batch);
                uint64_t counted = 0;
                const size_t answered =
                    conn::answerParsesLocally(reinterpret_cast<const uint8_t*>(batch.data()), batch.size(), catalog,
                                              client, toClient, counted);
                FUZZ_CHECK(answered <= batch.size());
                if (answered > 0) {
                    FUZZ_CHECK(answered == batch.size() && counted > 0);
                    checkFramed(toClient);
                    FUZZ_CHECK(toClient.size() >= 6 && toClient[toClient.size() - 6] == proto::msg::kReadyForQuery);
                } else {
                    FUZZ_CHECK(toClient.empty());
                }
                continue;
            }
            default: {  // a server reply
                static const char kTypes[] = "123tnTDCEZsINSAGHc";
                const char type = kTypes[in.byte() % (sizeof kTypes - 1)];
                std::string reply = serverReply(type, in);
                std::vector<char> readies;
                if (relay.hasDue()) relay.takeDue(toClient, readies);
                (void)relay.fromServer(type, reinterpret_cast<const uint8_t*>(reply.data()) + proto::kHeaderSize,
                                       reply.size() - proto::kHeaderSize, client);
                if (relay.takeReplay(toServer)) checkFramed(toServer);  // a stale plan's batch, sent again
                if (relay.hasDue()) relay.takeDue(toClient, readies);
                for (char ready : readies) FUZZ_CHECK(ready == 'I' || ready == 'T' || ready == 'E');
                if (type == proto::msg::kReadyForQuery) status = reply[proto::kHeaderSize];
                checkFramed(toClient);
                FUZZ_CHECK(servers[linked].statements.size() <= kCapacity);
                continue;
            }
        }
        // A client message, as ClientConn hands it to the relay (which may hold it back while a
        // batch is about to be sent again: it then waits in the client's buffer, here dropped).
        if (relay.holdsClient()) continue;
        const char type = message[0];
        const auto* body = reinterpret_cast<const uint8_t*>(message.data()) + proto::kHeaderSize;
        const size_t bodySize = message.size() - proto::kHeaderSize;
        PreparedRelay::Outcome outcome = PreparedRelay::Outcome::Unchanged;
        if (relay.readsWhole(type)) {
            outcome = relay.fromClient(type, body, bodySize, client, toServer);
        } else if (type == proto::msg::kQuery &&
                   PreparedRelay::mayBePreparedSql(body, bodySize) != PreparedRelay::Maybe::No) {
            outcome = relay.fromClientQuery(body, bodySize, status, client, toServer);
        } else {
            relay.forwarded(type);
        }
        if (outcome == PreparedRelay::Outcome::Malformed) break;  // the client is disconnected
        if (outcome == PreparedRelay::Outcome::Unchanged) FUZZ_CHECK(toServer.empty());
        checkFramed(toServer);
        FUZZ_CHECK(servers[linked].statements.size() <= kCapacity);
        if (relay.hasDue()) {
            std::vector<char> readies;
            relay.takeDue(toClient, readies);
            checkFramed(toClient);
        }
    }
    return 0;
}
