// Reading SCRAM messages (RFC 5802 §7): comma-separated "x=value" attributes in a fixed
// order. Shared by ScramClient and ScramServer; every failure becomes an error string,
// never an exception or an out-of-range read.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::auth {

// Far above any real message (PostgreSQL's are < 200 bytes), so a peer cannot make us hash or
// copy megabytes; the protocol layer's max_packet_size bounds the packet before this.
inline constexpr size_t kMaxScramMessageLength = 8192;

// Upper bound on the iteration count a server may ask of us: each iteration costs an HMAC,
// and ten million already takes seconds of CPU per connection.
inline constexpr int kMaxScramIterations = 10'000'000;

struct ScramAttribute {
    char name = 0;
    std::string_view value;
    size_t start = 0;  // offset of `name` in the message
};

class ScramAttributeReader {
public:
    // `messageName` (e.g. "server-first-message") appears in errors.
    ScramAttributeReader(std::string_view message, std::string_view messageName);

    // No attribute left, and the message did not end with a dangling comma.
    bool atEnd() const { return pos_ == text_.size() && !expectMore_; }
    // The name of the next attribute, or 0 when none can follow.
    char peekName() const;

    bool next(ScramAttribute& attribute, std::string& error);
    // next(), then checks the name is `name`.
    bool expect(char name, std::string_view& value, std::string& error);

    std::string malformed(std::string_view what) const;

private:
    std::string_view text_;
    std::string_view messageName_;
    size_t pos_ = 0;
    bool expectMore_ = true;  // an empty message has a missing first attribute, not "no attributes"
};

// RFC 5802 "printable": 0x21-0x7E except ','. Nonces must consist of these.
bool isScramPrintable(std::string_view text);

// Letters of the attributes RFC 5802 defines. An extension may not reuse one, so a repeated
// or misplaced standard attribute is reported as malformed rather than skipped.
bool isStandardScramAttribute(char name);

// Message-level checks common to every SCRAM message we read.
bool checkScramMessage(std::string_view message, std::string_view messageName, std::string& error);

// Decimal iteration count in [1, kMaxScramIterations].
bool parseScramIterations(std::string_view text, int& iterations);

}  // namespace sluice::auth
