#include "proto/startup.h"

#include <algorithm>

#include "proto/codes.h"
#include "proto/header.h"
#include "proto/reader.h"

namespace sluice::proto {

namespace {

constexpr size_t kLengthAndCode = 8;
constexpr uint32_t kCancelRequestLength = 16;
constexpr uint32_t kEncryptionRequestLength = 8;
constexpr std::string_view kProtocolOptionPrefix = "_pq_.";

ParseStatus fail(ParseError& err, std::string_view sqlstate, std::string message) {
    err.sqlstate = std::string(sqlstate);
    err.message = std::move(message);
    return ParseStatus::Error;
}

// Reads the name/value list of a StartupMessage (everything after the version code).
ParseStatus parseParameters(const uint8_t* data, size_t size, StartupPacket& out, ParseError& err) {
    FieldReader reader(data, size);
    while (true) {
        std::string_view name, value;
        if (!reader.readString(name))
            return fail(err, sqlstate::kProtocolViolation,
                        "invalid startup packet layout: expected terminator as last byte");
        if (name.empty()) break;
        if (!reader.readString(value))
            return fail(err, sqlstate::kProtocolViolation,
                        "invalid startup packet layout: startup parameter \"" + std::string(name) + "\" has no value");
        if (name.starts_with(kProtocolOptionPrefix)) {
            out.protocolOptions.emplace_back(name);
            continue;
        }
        if (out.find(name) != nullptr)
            return fail(err, sqlstate::kProtocolViolation,
                        "duplicate startup parameter \"" + std::string(name) + "\"");
        out.params.emplace_back(std::string(name), std::string(value));
    }
    if (!reader.atEnd())
        return fail(err, sqlstate::kProtocolViolation,
                    "invalid startup packet layout: expected terminator as last byte");

    const std::string* user = out.find("user");
    if (user == nullptr || user->empty())
        return fail(err, sqlstate::kInvalidAuthorizationSpecification,
                    "no PostgreSQL user name specified in startup packet");
    // Same default as PostgreSQL, so the rest of the pooler can rely on "database".
    auto database = std::find_if(out.params.begin(), out.params.end(),
                                 [](const auto& param) { return param.first == "database"; });
    if (database == out.params.end()) out.params.emplace_back("database", *user);
    else if (database->second.empty()) database->second = *user;
    return ParseStatus::Ok;
}

}  // namespace

const std::string* StartupPacket::find(std::string_view name) const {
    for (const auto& [key, value] : params)
        if (key == name) return &value;
    return nullptr;
}

ParseStatus parseStartupPacket(const uint8_t* data, size_t size, uint32_t maxPacketSize, StartupPacket& out,
                               size_t& consumed, ParseError& err) {
    consumed = 0;
    if (size < 4) return ParseStatus::NeedMore;
    const uint32_t length = readU32(data);
    const uint32_t limit = std::min(maxPacketSize, kMaxStartupPacketLength);
    if (length < kLengthAndCode || length > limit)
        return fail(err, sqlstate::kProtocolViolation, "invalid length of startup packet");
    if (size < kLengthAndCode) return ParseStatus::NeedMore;

    const int32_t code = readI32(data + 4);
    switch (code) {
        case kCancelRequestCode:
            if (length != kCancelRequestLength)
                return fail(err, sqlstate::kProtocolViolation, "invalid length of cancel request packet");
            break;
        case kSslRequestCode:
            if (length != kEncryptionRequestLength)
                return fail(err, sqlstate::kProtocolViolation, "invalid length of SSL negotiation packet");
            break;
        case kGssEncRequestCode:
            if (length != kEncryptionRequestLength)
                return fail(err, sqlstate::kProtocolViolation, "invalid length of GSSAPI negotiation packet");
            break;
        default: {
            const auto major = static_cast<uint16_t>(static_cast<uint32_t>(code) >> 16);
            const auto minor = static_cast<uint16_t>(code & 0xFFFF);
            if (major != kProtocolMajor)
                return fail(err, sqlstate::kFeatureNotSupported,
                            "unsupported frontend protocol " + std::to_string(major) + "." + std::to_string(minor) +
                                ": server supports 3.0 to 3." + std::to_string(kNewestProtocolMinor));
            break;
        }
    }
    if (size < length) return ParseStatus::NeedMore;

    StartupPacket packet;
    switch (code) {
        case kCancelRequestCode:
            packet.kind = StartupKind::CancelRequest;
            packet.cancelPid = readI32(data + 8);
            packet.cancelKey = readI32(data + 12);
            break;
        case kSslRequestCode: packet.kind = StartupKind::SslRequest; break;
        case kGssEncRequestCode: packet.kind = StartupKind::GssEncRequest; break;
        default: {
            packet.kind = StartupKind::Startup;
            packet.major = static_cast<uint16_t>(static_cast<uint32_t>(code) >> 16);
            packet.minor = static_cast<uint16_t>(code & 0xFFFF);
            ParseStatus status = parseParameters(data + kLengthAndCode, length - kLengthAndCode, packet, err);
            if (status != ParseStatus::Ok) return status;
            break;
        }
    }
    out = std::move(packet);
    consumed = length;
    return ParseStatus::Ok;
}

}  // namespace sluice::proto
