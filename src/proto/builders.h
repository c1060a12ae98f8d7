// Writers of complete protocol messages. Each appends one whole message (header and
// length included) to `out`, a std::string used as a byte buffer, so several messages
// can be batched into one socket write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::proto {

// Builds one message in place: writes the type byte and a placeholder length, lets the
// caller add fields, and patches the real length in finish() (or on destruction, so an
// early return can never leave a half-framed message behind).
class MessageBuilder {
public:
    MessageBuilder(std::string& out, char type);
    // Startup-phase packets (StartupMessage, CancelRequest, SSLRequest) have no type byte.
    static MessageBuilder untyped(std::string& out) { return MessageBuilder(out); }
    ~MessageBuilder() { finish(); }
    MessageBuilder(const MessageBuilder&) = delete;
    MessageBuilder& operator=(const MessageBuilder&) = delete;

    MessageBuilder& addByte(uint8_t value);
    MessageBuilder& addInt16(int16_t value);
    MessageBuilder& addInt32(int32_t value);
    // Appends the string and its NUL terminator. A protocol string cannot contain NUL, so
    // anything from an embedded NUL on is dropped rather than corrupting the framing.
    MessageBuilder& addString(std::string_view value);
    MessageBuilder& addBytes(std::string_view bytes);
    MessageBuilder& addBytes(const uint8_t* bytes, size_t size);

    // Patches the length field; further calls do nothing.
    void finish();

private:
    explicit MessageBuilder(std::string& out);

    std::string& out_;
    size_t lengthAt_;
    bool finished_ = false;
};

// --- Backend messages (what the pooler says to its clients) ---

// Fields S, V (both = severity, which should be "ERROR", "FATAL" or "PANIC"), C, M, and
// D and H only when not empty.
void appendErrorResponse(std::string& out, std::string_view severity, std::string_view sqlstate,
                         std::string_view message, std::string_view detail = {}, std::string_view hint = {});
// severity: "WARNING", "NOTICE", "DEBUG", "INFO" or "LOG".
void appendNoticeResponse(std::string& out, std::string_view severity, std::string_view sqlstate,
                          std::string_view message, std::string_view detail = {});

void appendAuthenticationOk(std::string& out);
void appendAuthenticationCleartext(std::string& out);
void appendAuthenticationMd5(std::string& out, const uint8_t salt[4]);
void appendAuthenticationSasl(std::string& out, std::span<const std::string_view> mechanisms);
void appendAuthenticationSaslContinue(std::string& out, std::string_view data);
void appendAuthenticationSaslFinal(std::string& out, std::string_view data);

void appendParameterStatus(std::string& out, std::string_view name, std::string_view value);
void appendBackendKeyData(std::string& out, int32_t pid, int32_t key);
// status: 'I' idle, 'T' in a transaction block, 'E' in a failed transaction block.
void appendReadyForQuery(std::string& out, char status);
// newestMinor is the newest 3.x minor we accept; on the wire PostgreSQL (and libpq, which
// checks it) uses the full version number (3 << 16 | minor), so that is what is written.
void appendNegotiateProtocolVersion(std::string& out, int32_t newestMinor,
                                    std::span<const std::string> unrecognizedOptions);

// Result sets of the admin console.
struct Column {
    std::string name;
    uint32_t typeOid;  // e.g. 25 text, 20 int8, 23 int4
    int16_t typeSize;  // pg_type.typlen: -1 for variable length
};
// Columns are sent in text format, with no source table and typmod -1.
void appendRowDescription(std::string& out, std::span<const Column> columns);
// nullopt is SQL NULL.
void appendDataRow(std::string& out, std::span<const std::optional<std::string>> values);
void appendCommandComplete(std::string& out, std::string_view tag);
void appendEmptyQueryResponse(std::string& out);

// --- Frontend messages (what the pooler says to servers) ---

void appendQuery(std::string& out, std::string_view sql);
void appendSync(std::string& out);
void appendTerminate(std::string& out);
// Cleartext password or md5 response; the NUL terminator is added here.
void appendPasswordMessage(std::string& out, std::string_view password);
// data is the client-first-message; SASLInitialResponse always carries one for SCRAM.
void appendSaslInitialResponse(std::string& out, std::string_view mechanism, std::string_view data);
void appendSaslResponse(std::string& out, std::string_view data);

// Startup packets (no type byte). appendStartupMessage requests protocol 3.0.
void appendStartupMessage(std::string& out, const std::vector<std::pair<std::string, std::string>>& params);
void appendCancelRequest(std::string& out, int32_t pid, int32_t key);
void appendSslRequest(std::string& out);
void appendGssEncRequest(std::string& out);

}  // namespace sluice::proto
