#include "proto/builders.h"

#include "proto/codes.h"
#include "proto/header.h"

namespace sluice::proto {

MessageBuilder::MessageBuilder(std::string& out, char type) : out_(out) {
    out_.push_back(type);
    lengthAt_ = out_.size();
    out_.append(4, '\0');
}

MessageBuilder::MessageBuilder(std::string& out) : out_(out), lengthAt_(out.size()) { out_.append(4, '\0'); }

MessageBuilder& MessageBuilder::addByte(uint8_t value) {
    out_.push_back(static_cast<char>(value));
    return *this;
}

MessageBuilder& MessageBuilder::addInt16(int16_t value) {
    appendI16(out_, value);
    return *this;
}

MessageBuilder& MessageBuilder::addInt32(int32_t value) {
    appendI32(out_, value);
    return *this;
}

MessageBuilder& MessageBuilder::addString(std::string_view value) {
    out_.append(value.substr(0, value.find('\0')));
    out_.push_back('\0');
    return *this;
}

MessageBuilder& MessageBuilder::addBytes(std::string_view bytes) {
    out_.append(bytes);
    return *this;
}

MessageBuilder& MessageBuilder::addBytes(const uint8_t* bytes, size_t size) {
    out_.append(reinterpret_cast<const char*>(bytes), size);
    return *this;
}

void MessageBuilder::finish() {
    if (finished_) return;
    finished_ = true;
    writeU32(reinterpret_cast<uint8_t*>(out_.data() + lengthAt_), static_cast<uint32_t>(out_.size() - lengthAt_));
}

namespace {

void appendNoticeOrError(std::string& out, char type, std::string_view severity, std::string_view sqlstate,
                         std::string_view message, std::string_view detail, std::string_view hint) {
    MessageBuilder builder(out, type);
    builder.addByte('S').addString(severity);
    builder.addByte('V').addString(severity);
    builder.addByte('C').addString(sqlstate);
    builder.addByte('M').addString(message);
    if (!detail.empty()) builder.addByte('D').addString(detail);
    if (!hint.empty()) builder.addByte('H').addString(hint);
    builder.addByte(0);
}

void appendAuthentication(std::string& out, int32_t code) { MessageBuilder(out, msg::kAuthentication).addInt32(code); }

}  // namespace

void appendErrorResponse(std::string& out, std::string_view severity, std::string_view sqlstate,
                         std::string_view message, std::string_view detail, std::string_view hint) {
    appendNoticeOrError(out, msg::kErrorResponse, severity, sqlstate, message, detail, hint);
}

void appendNoticeResponse(std::string& out, std::string_view severity, std::string_view sqlstate,
                          std::string_view message, std::string_view detail) {
    appendNoticeOrError(out, msg::kNoticeResponse, severity, sqlstate, message, detail, {});
}

void appendAuthenticationOk(std::string& out) { appendAuthentication(out, kAuthOk); }

void appendAuthenticationCleartext(std::string& out) { appendAuthentication(out, kAuthCleartext); }

void appendAuthenticationMd5(std::string& out, const uint8_t salt[4]) {
    MessageBuilder(out, msg::kAuthentication).addInt32(kAuthMd5).addBytes(salt, 4);
}

void appendAuthenticationSasl(std::string& out, std::span<const std::string_view> mechanisms) {
    MessageBuilder builder(out, msg::kAuthentication);
    builder.addInt32(kAuthSasl);
    for (std::string_view mechanism : mechanisms) builder.addString(mechanism);
    builder.addByte(0);
}

void appendAuthenticationSaslContinue(std::string& out, std::string_view data) {
    MessageBuilder(out, msg::kAuthentication).addInt32(kAuthSaslContinue).addBytes(data);
}

void appendAuthenticationSaslFinal(std::string& out, std::string_view data) {
    MessageBuilder(out, msg::kAuthentication).addInt32(kAuthSaslFinal).addBytes(data);
}

void appendParameterStatus(std::string& out, std::string_view name, std::string_view value) {
    MessageBuilder(out, msg::kParameterStatus).addString(name).addString(value);
}

void appendBackendKeyData(std::string& out, int32_t pid, int32_t key) {
    MessageBuilder(out, msg::kBackendKeyData).addInt32(pid).addInt32(key);
}

void appendReadyForQuery(std::string& out, char status) {
    MessageBuilder(out, msg::kReadyForQuery).addByte(static_cast<uint8_t>(status));
}

void appendNegotiateProtocolVersion(std::string& out, int32_t newestMinor,
                                    std::span<const std::string> unrecognizedOptions) {
    MessageBuilder builder(out, msg::kNegotiateProtocolVersion);
    builder.addInt32(kProtocolV3 | newestMinor);
    builder.addInt32(static_cast<int32_t>(unrecognizedOptions.size()));
    for (const std::string& option : unrecognizedOptions) builder.addString(option);
}

void appendRowDescription(std::string& out, std::span<const Column> columns) {
    MessageBuilder builder(out, msg::kRowDescription);
    builder.addInt16(static_cast<int16_t>(columns.size()));
    for (const Column& column : columns) {
        builder.addString(column.name);
        builder.addInt32(0);  // not a column of a table
        builder.addInt16(0);  // so no attribute number either
        builder.addInt32(static_cast<int32_t>(column.typeOid));
        builder.addInt16(column.typeSize);
        builder.addInt32(-1);  // no type modifier
        builder.addInt16(0);   // text format
    }
}

void appendDataRow(std::string& out, std::span<const std::optional<std::string>> values) {
    MessageBuilder builder(out, msg::kDataRow);
    builder.addInt16(static_cast<int16_t>(values.size()));
    for (const auto& value : values) {
        if (!value) {
            builder.addInt32(-1);
            continue;
        }
        builder.addInt32(static_cast<int32_t>(value->size()));
        builder.addBytes(*value);
    }
}

void appendCommandComplete(std::string& out, std::string_view tag) {
    MessageBuilder(out, msg::kCommandComplete).addString(tag);
}

void appendEmptyQueryResponse(std::string& out) { MessageBuilder(out, msg::kEmptyQueryResponse).finish(); }

void appendQuery(std::string& out, std::string_view sql) { MessageBuilder(out, msg::kQuery).addString(sql); }

void appendSync(std::string& out) { MessageBuilder(out, msg::kSync).finish(); }

void appendTerminate(std::string& out) { MessageBuilder(out, msg::kTerminate).finish(); }

void appendPasswordMessage(std::string& out, std::string_view password) {
    MessageBuilder(out, msg::kPasswordMessage).addString(password);
}

void appendSaslInitialResponse(std::string& out, std::string_view mechanism, std::string_view data) {
    MessageBuilder(out, msg::kPasswordMessage)
        .addString(mechanism)
        .addInt32(static_cast<int32_t>(data.size()))
        .addBytes(data);
}

void appendSaslResponse(std::string& out, std::string_view data) {
    MessageBuilder(out, msg::kPasswordMessage).addBytes(data);
}

void appendStartupMessage(std::string& out, const std::vector<std::pair<std::string, std::string>>& params) {
    MessageBuilder builder = MessageBuilder::untyped(out);
    builder.addInt32(kProtocolV3);
    for (const auto& [name, value] : params) builder.addString(name).addString(value);
    builder.addByte(0);
}

void appendCancelRequest(std::string& out, int32_t pid, int32_t key) {
    MessageBuilder::untyped(out).addInt32(kCancelRequestCode).addInt32(pid).addInt32(key);
}

void appendSslRequest(std::string& out) { MessageBuilder::untyped(out).addInt32(kSslRequestCode); }

void appendGssEncRequest(std::string& out) { MessageBuilder::untyped(out).addInt32(kGssEncRequestCode); }

}  // namespace sluice::proto
