#include "auth/scram_message.h"

namespace sluice::auth {

namespace {

bool isAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

ScramAttributeReader::ScramAttributeReader(std::string_view message, std::string_view messageName)
    : text_(message), messageName_(messageName) {}

char ScramAttributeReader::peekName() const {
    if (pos_ + 1 >= text_.size() || text_[pos_ + 1] != '=' || !isAsciiLetter(text_[pos_])) return 0;
    return text_[pos_];
}

std::string ScramAttributeReader::malformed(std::string_view what) const {
    std::string message = "malformed SCRAM ";
    message += messageName_;
    message += ": ";
    message += what;
    return message;
}

bool ScramAttributeReader::next(ScramAttribute& attribute, std::string& error) {
    if (pos_ == text_.size()) {
        error = malformed(expectMore_ && pos_ > 0 ? "ends with a comma" : "an attribute is missing");
        return false;
    }
    if (peekName() == 0) {
        error = malformed("expected an attribute of the form x=value at offset " + std::to_string(pos_));
        return false;
    }
    attribute.name = text_[pos_];
    attribute.start = pos_;
    const size_t valueStart = pos_ + 2;
    size_t comma = text_.find(',', valueStart);
    if (comma == std::string_view::npos) comma = text_.size();
    attribute.value = text_.substr(valueStart, comma - valueStart);
    expectMore_ = comma < text_.size();
    pos_ = expectMore_ ? comma + 1 : comma;
    return true;
}

bool ScramAttributeReader::expect(char name, std::string_view& value, std::string& error) {
    ScramAttribute attribute;
    if (pos_ == text_.size() && !(expectMore_ && pos_ > 0)) {
        error = malformed(std::string("attribute '") + name + "' is missing");
        return false;
    }
    if (!next(attribute, error)) return false;
    if (attribute.name != name) {
        error = malformed(std::string("expected attribute '") + name + "', got '" + attribute.name + "'");
        return false;
    }
    value = attribute.value;
    return true;
}

bool isScramPrintable(std::string_view text) {
    for (char c : text) {
        if (c < 0x21 || c > 0x7e || c == ',') return false;
    }
    return true;
}

bool isStandardScramAttribute(char name) {
    switch (name) {
        case 'a': case 'n': case 'm': case 'r': case 'c': case 's':
        case 'i': case 'p': case 'v': case 'e':
            return true;
        default:
            return false;
    }
}

bool checkScramMessage(std::string_view message, std::string_view messageName, std::string& error) {
    if (message.size() > kMaxScramMessageLength) {
        error = "SCRAM " + std::string(messageName) + " too long (" + std::to_string(message.size()) + " bytes)";
        return false;
    }
    if (message.find('\0') != std::string_view::npos) {
        error = "malformed SCRAM " + std::string(messageName) + ": contains a NUL byte";
        return false;
    }
    return true;
}

bool parseScramIterations(std::string_view text, int& iterations) {
    if (text.empty() || text.size() > 9) return false;  // 9 digits cover kMaxScramIterations
    long value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + (c - '0');
    }
    if (value < 1 || value > kMaxScramIterations) return false;
    iterations = static_cast<int>(value);
    return true;
}

}  // namespace sluice::auth
