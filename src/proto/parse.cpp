#include "proto/parse.h"

#include <cstring>

#include "proto/codes.h"
#include "proto/reader.h"

namespace sluice::proto {

bool parseErrorOrNotice(const uint8_t* body, size_t size, ErrorFields& fields) {
    FieldReader reader(body, size);
    ErrorFields parsed;
    std::string localizedSeverity;
    while (true) {
        uint8_t code;
        if (!reader.readByte(code)) return false;
        if (code == 0) break;
        std::string_view value;
        if (!reader.readString(value)) return false;
        switch (code) {
            case 'S': localizedSeverity = value; break;
            case 'V': parsed.severity = value; break;
            case 'C': parsed.sqlstate = value; break;
            case 'M': parsed.message = value; break;
            case 'D': parsed.detail = value; break;
            case 'H': parsed.hint = value; break;
            case 'R': parsed.routine = value; break;
            default: break;  // position, where, schema, file, line, ...
        }
    }
    if (!reader.atEnd()) return false;
    if (parsed.severity.empty()) parsed.severity = std::move(localizedSeverity);
    fields = std::move(parsed);
    return true;
}

bool parseParameterStatus(const uint8_t* body, size_t size, std::string_view& name, std::string_view& value) {
    FieldReader reader(body, size);
    std::string_view n, v;
    if (!reader.readString(n) || !reader.readString(v) || !reader.atEnd()) return false;
    name = n;
    value = v;
    return true;
}

bool parseBackendKeyData(const uint8_t* body, size_t size, int32_t& pid, int32_t& key) {
    FieldReader reader(body, size);
    int32_t p, k;
    if (!reader.readInt32(p) || !reader.readInt32(k) || !reader.atEnd()) return false;
    pid = p;
    key = k;
    return true;
}

bool parseDataRow(const uint8_t* body, size_t size, std::vector<std::optional<std::string>>& values) {
    FieldReader reader(body, size);
    int16_t count = 0;
    if (!reader.readInt16(count) || count < 0) return false;
    std::vector<std::optional<std::string>> parsed;
    parsed.reserve(static_cast<size_t>(count));
    for (int16_t i = 0; i < count; ++i) {
        int32_t length = 0;
        if (!reader.readInt32(length)) return false;
        if (length == -1) {
            parsed.emplace_back(std::nullopt);
            continue;
        }
        std::string_view value;
        if (length < 0 || !reader.readBytes(static_cast<size_t>(length), value)) return false;
        parsed.emplace_back(std::string(value));
    }
    if (!reader.atEnd()) return false;
    values = std::move(parsed);
    return true;
}

bool parseAuthRequest(const uint8_t* body, size_t size, AuthRequest& request) {
    FieldReader reader(body, size);
    AuthRequest parsed;
    if (!reader.readInt32(parsed.code)) return false;
    switch (parsed.code) {
        case kAuthOk:
        case kAuthCleartext: break;
        case kAuthMd5: {
            std::string_view salt;
            if (!reader.readBytes(sizeof parsed.md5Salt, salt)) return false;
            std::memcpy(parsed.md5Salt, salt.data(), sizeof parsed.md5Salt);
            break;
        }
        case kAuthSasl:
            while (true) {
                std::string_view mechanism;
                if (!reader.readString(mechanism)) return false;
                if (mechanism.empty()) break;
                parsed.saslMechanisms.emplace_back(mechanism);
            }
            if (parsed.saslMechanisms.empty()) return false;
            break;
        case kAuthSaslContinue:
        case kAuthSaslFinal: parsed.data = reader.readRest(); break;
        default: reader.readRest(); break;  // GSS/SSPI tokens: the caller refuses those methods anyway
    }
    if (!reader.atEnd()) return false;
    request = std::move(parsed);
    return true;
}

bool parseReadyForQuery(const uint8_t* body, size_t size, char& status) {
    if (size != 1) return false;
    const char value = static_cast<char>(body[0]);
    if (value != kTxIdle && value != kTxInBlock && value != kTxFailed) return false;
    status = value;
    return true;
}

bool parsePasswordMessage(const uint8_t* body, size_t size, std::string_view& password) {
    FieldReader reader(body, size);
    std::string_view value;
    if (!reader.readString(value) || !reader.atEnd()) return false;
    password = value;
    return true;
}

bool parseSaslInitialResponse(const uint8_t* body, size_t size, SaslInitialResponse& response) {
    FieldReader reader(body, size);
    std::string_view mechanism, data;
    int32_t length;
    if (!reader.readString(mechanism) || !reader.readInt32(length)) return false;
    if (length < -1) return false;
    if (length >= 0 && !reader.readBytes(static_cast<size_t>(length), data)) return false;
    if (!reader.atEnd()) return false;
    response.mechanism = mechanism;
    response.data = data;
    return true;
}

bool parseQuery(const uint8_t* body, size_t size, std::string_view& sql) {
    FieldReader reader(body, size);
    std::string_view value;
    if (!reader.readString(value) || !reader.atEnd()) return false;
    sql = value;
    return true;
}

}  // namespace sluice::proto
