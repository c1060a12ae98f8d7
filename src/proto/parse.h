// Parsers of the message bodies the pooler must understand (the bytes after the 5-byte
// header). Each returns false on a malformed body: short, unterminated, or with bytes
// left over. Views returned point into the caller's buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::proto {

struct ErrorFields {
    std::string severity;  // non-localized 'V' when sent, else the possibly translated 'S'
    std::string sqlstate;
    std::string message;
    std::string detail;
    std::string hint;
    std::string routine;  // 'R': the server function that raised it (never translated)
};
// ErrorResponse or NoticeResponse. Fields the pooler has no use for are skipped.
bool parseErrorOrNotice(const uint8_t* body, size_t size, ErrorFields& fields);

bool parseParameterStatus(const uint8_t* body, size_t size, std::string_view& name, std::string_view& value);

// Protocol 3.0 keys only (exactly 8 bytes): we never ask a server for 3.2's longer keys.
bool parseBackendKeyData(const uint8_t* body, size_t size, int32_t& pid, int32_t& key);

struct AuthRequest {
    int32_t code = 0;
    uint8_t md5Salt[4] = {0, 0, 0, 0};        // kAuthMd5
    std::vector<std::string> saslMechanisms;  // kAuthSasl
    std::string data;                         // kAuthSaslContinue / kAuthSaslFinal payload
};
// Any code is accepted (so the caller can name an unsupported method in its error);
// the layouts of Ok, Cleartext, MD5 and the three SASL requests are checked.
bool parseAuthRequest(const uint8_t* body, size_t size, AuthRequest& request);

// Only 'I', 'T' and 'E' are valid.
bool parseReadyForQuery(const uint8_t* body, size_t size, char& status);
// DataRow: one value per column, nullopt for NULL.
bool parseDataRow(const uint8_t* body, size_t size, std::vector<std::optional<std::string>>& values);

// Cleartext password or md5 response: one NUL-terminated string filling the body.
bool parsePasswordMessage(const uint8_t* body, size_t size, std::string_view& password);

struct SaslInitialResponse {
    std::string mechanism;
    std::string data;  // empty when the client sent length -1 (no initial response)
};
bool parseSaslInitialResponse(const uint8_t* body, size_t size, SaslInitialResponse& response);

bool parseQuery(const uint8_t* body, size_t size, std::string_view& sql);

}  // namespace sluice::proto
