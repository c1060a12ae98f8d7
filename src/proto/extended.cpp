#include "proto/extended.h"

#include "proto/builders.h"
#include "proto/codes.h"
#include "proto/reader.h"

namespace sluice::proto {

bool parseParse(const uint8_t* body, size_t size, ParseMessage& parse) {
    FieldReader reader(body, size);
    int16_t count = 0;
    if (!reader.readString(parse.name) || !reader.readString(parse.query)) return false;
    std::string_view types = reader.readRest();
    // The count and its OIDs must be exactly what is left.
    FieldReader typesReader(reinterpret_cast<const uint8_t*>(types.data()), types.size());
    if (!typesReader.readInt16(count) || count < 0 || typesReader.remaining() != static_cast<size_t>(count) * 4)
        return false;
    parse.paramTypes = types;
    return true;
}

void appendParse(std::string& out, std::string_view name, std::string_view query, std::string_view paramTypes) {
    MessageBuilder(out, msg::kParse).addString(name).addString(query).addBytes(paramTypes);
}

bool parseBind(const uint8_t* body, size_t size, BindNames& bind) {
    FieldReader reader(body, size);
    if (!reader.readString(bind.portal) || !reader.readString(bind.statement)) return false;
    bind.rest = reader.readRest();
    return true;
}

void appendBind(std::string& out, std::string_view portal, std::string_view statement, std::string_view rest) {
    MessageBuilder(out, msg::kBind).addString(portal).addString(statement).addBytes(rest);
}

bool parseDescribeOrClose(const uint8_t* body, size_t size, char& kind, std::string_view& name) {
    FieldReader reader(body, size);
    uint8_t byte = 0;
    if (!reader.readByte(byte) || (byte != 'S' && byte != 'P') || !reader.readString(name) || !reader.atEnd())
        return false;
    kind = static_cast<char>(byte);
    return true;
}

void appendDescribe(std::string& out, char kind, std::string_view name) {
    MessageBuilder(out, msg::kDescribe).addByte(static_cast<uint8_t>(kind)).addString(name);
}

void appendClose(std::string& out, char kind, std::string_view name) {
    MessageBuilder(out, msg::kClose).addByte(static_cast<uint8_t>(kind)).addString(name);
}

void appendParseComplete(std::string& out) { MessageBuilder(out, msg::kParseComplete); }
void appendCloseComplete(std::string& out) { MessageBuilder(out, msg::kCloseComplete); }

}  // namespace sluice::proto
