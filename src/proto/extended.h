// Readers and writers of the extended-query messages whose statement names the pooler
// rewrites (prepared statements in transaction pooling, DESIGN §10): Parse, Bind, Describe and
// Close from clients, ParseComplete and CloseComplete toward them. Pure, no IO.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::proto {

struct ParseMessage {
    std::string_view name;        // "" = the unnamed statement
    std::string_view query;
    std::string_view paramTypes;  // int16 count and the OIDs, as sent
};
bool parseParse(const uint8_t* body, size_t size, ParseMessage& parse);
void appendParse(std::string& out, std::string_view name, std::string_view query, std::string_view paramTypes);

// Bind: the portal and statement names; everything after them is `rest` (formats, values).
struct BindNames {
    std::string_view portal;
    std::string_view statement;
    std::string_view rest;
};
bool parseBind(const uint8_t* body, size_t size, BindNames& bind);
void appendBind(std::string& out, std::string_view portal, std::string_view statement, std::string_view rest);

// Describe and Close: 'S' (statement) or 'P' (portal), and the name.
bool parseDescribeOrClose(const uint8_t* body, size_t size, char& kind, std::string_view& name);
void appendDescribe(std::string& out, char kind, std::string_view name);
void appendClose(std::string& out, char kind, std::string_view name);

void appendParseComplete(std::string& out);
void appendCloseComplete(std::string& out);

}  // namespace sluice::proto
