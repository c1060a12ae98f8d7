// What a client sends after its startup packet: a stream of typed messages, framed as the
// connections frame them (peekHeader, headerIsValid with max_packet_size), each body given to
// the parser the pooler uses for its type — PasswordMessage / SASLInitialResponse, Query (and
// the recognisers of COMMIT/ROLLBACK and PREPARE/EXECUTE/DEALLOCATE), Parse, Bind, Describe and
// Close. Invariants: the rewriters' writers give back the exact body their reader accepted
// (what the pooler re-sends is what the client sent), and a recognised prepared-statement
// name quotes to an identifier that is recognised as the same name.
#include <cstddef>
#include <cstdint>
#include <string>

#include "auth/scram_message.h"
#include "fuzz_util.h"
#include "proto/codes.h"
#include "proto/extended.h"
#include "proto/header.h"
#include "proto/parse.h"
#include "proto/sql_words.h"

using namespace sluice;

namespace {

std::string_view bodyOf(const std::string& message) { return std::string_view(message).substr(proto::kHeaderSize); }

bool same(std::string_view a, const uint8_t* body, size_t size) { return a == fuzz::asText(body, size); }

void query(const uint8_t* body, size_t size) {
    std::string_view sql;
    if (!proto::parseQuery(body, size, sql)) return;
    (void)proto::endsTransactionBlock(sql);
    auto prepared = proto::recognisePreparedSql(sql);
    if (!prepared) return;
    // The name quoted as the pooler would write it reads back as the same name.
    std::string again = "EXECUTE " + proto::quoteIdentifier(prepared->name);
    if (prepared->name.empty()) return;  // "" is not a valid identifier; quoting it is moot
    auto reread = proto::recognisePreparedSql(again);
    FUZZ_CHECK(reread && reread->kind == proto::PreparedSql::Kind::Execute && reread->name == prepared->name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const uint32_t maxPacket = 1u << 20;
    size_t pos = 0;
    while (true) {
        auto header = proto::peekHeader(data + pos, size - pos);
        if (!header || !proto::headerIsValid(*header, maxPacket)) break;
        if (size - pos < header->totalSize()) break;  // the connection waits for the rest
        const uint8_t* body = data + pos + proto::kHeaderSize;
        const size_t bodySize = header->bodySize();
        pos += header->totalSize();
        switch (header->type) {
            case proto::msg::kPasswordMessage: {
                std::string_view password;
                (void)proto::parsePasswordMessage(body, bodySize, password);
                proto::SaslInitialResponse initial;
                if (proto::parseSaslInitialResponse(body, bodySize, initial)) {
                    std::string error;
                    (void)auth::checkScramMessage(initial.data, "client-first-message", error);
                }
                break;
            }
            case proto::msg::kQuery: query(body, bodySize); break;
            case proto::msg::kParse: {
                proto::ParseMessage parse;
                if (!proto::parseParse(body, bodySize, parse)) break;
                std::string again;
                proto::appendParse(again, parse.name, parse.query, parse.paramTypes);
                FUZZ_CHECK(same(bodyOf(again), body, bodySize));
                break;
            }
            case proto::msg::kBind: {
                proto::BindNames bind;
                if (!proto::parseBind(body, bodySize, bind)) break;
                std::string again;
                proto::appendBind(again, bind.portal, bind.statement, bind.rest);
                FUZZ_CHECK(same(bodyOf(again), body, bodySize));
                break;
            }
            case proto::msg::kDescribe:
            case proto::msg::kClose: {
                char kind = 0;
                std::string_view name;
                if (!proto::parseDescribeOrClose(body, bodySize, kind, name)) break;
                FUZZ_CHECK(kind == 'S' || kind == 'P');
                std::string again;
                if (header->type == proto::msg::kDescribe) proto::appendDescribe(again, kind, name);
                else proto::appendClose(again, kind, name);
                FUZZ_CHECK(same(bodyOf(again), body, bodySize));
                break;
            }
            default: break;
        }
    }
    return 0;
}
