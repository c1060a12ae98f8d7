// What a hostile or broken server sends: a stream of backend messages framed as ServerConn
// frames them, each body given to the parser the pooler uses for its type (Authentication,
// through the real ServerAuthenticator that answers it; ErrorResponse/NoticeResponse,
// ParameterStatus, BackendKeyData, ReadyForQuery, DataRow). The first input byte picks the
// credentials the authenticator holds (plain password, md5 hash, SCRAM pass-through keys,
// none). Invariants: whatever the authenticator answers is whole, well-framed client messages,
// and an error it returns carries a SQLSTATE.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "conn/server_login.h"
#include "fuzz_util.h"
#include "proto/codes.h"
#include "proto/header.h"
#include "proto/parse.h"

using namespace sluice;
using fuzz::checkFramed;

namespace {

conn::ServerCredentials credentials(uint8_t choice) {
    conn::ServerCredentials c;
    c.user = "alice";
    switch (choice % 4) {
        case 0: c.password = "secret"; break;
        case 1: c.password = "md5" + std::string(32, 'a'); break;
        case 2: {
            pool::ScramPassthrough keys;
            keys.clientKey.fill(1);
            keys.serverKey.fill(2);
            c.scramKeys = keys;  // salt and iterations unchecked: any server-first goes on
            break;
        }
        default: break;  // no password at all
    }
    return c;
}


}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    // A plain password with a SCRAM request would cost a PBKDF2 run per input at up to ten
    // million iterations (the cap the client accepts): too slow to fuzz, and the scram target
    // covers that parser; here the plain password answers cleartext and md5 only.
    conn::ServerCredentials creds = credentials(data[0]);
    const bool plain = data[0] % 4 == 0;
    conn::ServerAuthenticator authenticator(creds);
    bool loginOver = false;
    size_t pos = 1;
    while (true) {
        auto header = proto::peekHeader(data + pos, size - pos);
        if (!header || !proto::headerIsValid(*header, 1u << 20)) break;
        if (size - pos < header->totalSize()) break;
        const uint8_t* body = data + pos + proto::kHeaderSize;
        const size_t bodySize = header->bodySize();
        pos += header->totalSize();
        switch (header->type) {
            case proto::msg::kAuthentication: {
                if (loginOver) break;
                proto::AuthRequest request;
                if (plain && proto::parseAuthRequest(body, bodySize, request) && request.code == proto::kAuthSasl)
                    break;
                std::string out;
                auto status = authenticator.answer(body, bodySize, out);
                if (!status) {
                    FUZZ_CHECK(status.error().sqlstate.size() == 5);
                    loginOver = true;
                }
                checkFramed(out);
                break;
            }
            case proto::msg::kErrorResponse:
            case proto::msg::kNoticeResponse: {
                proto::ErrorFields fields;
                (void)proto::parseErrorOrNotice(body, bodySize, fields);
                (void)conn::hostCannotServe(fields.sqlstate);
                break;
            }
            case proto::msg::kParameterStatus: {
                std::string_view name, value;
                (void)proto::parseParameterStatus(body, bodySize, name, value);
                break;
            }
            case proto::msg::kBackendKeyData: {
                int32_t pid = 0, key = 0;
                (void)proto::parseBackendKeyData(body, bodySize, pid, key);
                break;
            }
            case proto::msg::kReadyForQuery: {
                char status = 0;
                if (proto::parseReadyForQuery(body, bodySize, status))
                    FUZZ_CHECK(status == 'I' || status == 'T' || status == 'E');
                break;
            }
            case proto::msg::kDataRow: {
                std::vector<std::optional<std::string>> values;
                (void)proto::parseDataRow(body, bodySize, values);
                break;
            }
            default: break;
        }
    }
    return 0;
}
