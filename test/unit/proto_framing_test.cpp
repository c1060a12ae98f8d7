// Message headers, big-endian helpers and the bounds-checked field reader.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "proto/header.h"
#include "proto/reader.h"

namespace sluice::proto {
namespace {

template <size_t N>
std::string lit(const char (&s)[N]) {
    return std::string(s, N - 1);
}

const uint8_t* bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

TEST(ProtoFraming, BigEndianHelpers) {
    uint8_t buf[4];
    writeU32(buf, 0x80010203);
    EXPECT_EQ(buf[0], 0x80);
    EXPECT_EQ(buf[3], 0x03);
    EXPECT_EQ(readU32(buf), 0x80010203u);
    EXPECT_EQ(readI32(buf), static_cast<int32_t>(0x80010203u));
    writeU16(buf, 0xfffe);
    EXPECT_EQ(readU16(buf), 0xfffe);
    EXPECT_EQ(readI16(buf), -2);

    std::string out;
    appendI32(out, -1);
    appendU16(out, 0x0102);
    EXPECT_EQ(out, lit("\xff\xff\xff\xff\x01\x02"));
}

TEST(ProtoFraming, PeekHeaderNeedsFiveBytes) {
    std::string data = lit("Z\0\0\0\x05I");
    for (size_t n = 0; n < 5; ++n) EXPECT_FALSE(peekHeader(bytes(data), n).has_value()) << n;
    auto header = peekHeader(bytes(data), data.size());
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(header->type, 'Z');
    EXPECT_EQ(header->length, 5u);
    EXPECT_EQ(header->bodySize(), 1u);
    EXPECT_EQ(header->totalSize(), 6u);
}

TEST(ProtoFraming, MalformedLengthIsReturnedButNotValid) {
    std::string data = lit("Q\0\0\0\x03");
    auto header = peekHeader(bytes(data), data.size());
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(header->length, 3u);
    EXPECT_EQ(header->bodySize(), 0u);
    EXPECT_FALSE(headerIsValid(*header, 1 << 20));
}

TEST(ProtoFraming, HeaderIsValidAppliesMaxPacketSizeToTheWholeMessage) {
    EXPECT_TRUE(headerIsValid({'Q', 4}, 5));
    EXPECT_TRUE(headerIsValid({'Q', 99}, 100));   // 100 bytes with the type byte
    EXPECT_FALSE(headerIsValid({'Q', 100}, 100));  // 101
    EXPECT_FALSE(headerIsValid({'Q', 0x80000000u}, 0xffffffffu));  // negative as an int32
    EXPECT_TRUE(headerIsValid({'Q', 0x7fffffffu}, 0xffffffffu));
}

TEST(ProtoFraming, TotalSizeSaturatesInsteadOfWrapping) {
    MessageHeader header{'D', 0xffffffffu};
    EXPECT_EQ(header.totalSize(), 0xffffffffu);
    EXPECT_FALSE(headerIsValid(header, 0xffffffffu));
}

TEST(ProtoFraming, FieldReaderReadsInOrder) {
    std::string data = lit("\x07\xff\xfe\0\0\x01\0name\0rest");
    FieldReader reader(bytes(data), data.size());
    uint8_t byte;
    int16_t i16;
    int32_t i32;
    std::string_view name, rest;
    ASSERT_TRUE(reader.readByte(byte));
    ASSERT_TRUE(reader.readInt16(i16));
    ASSERT_TRUE(reader.readInt32(i32));
    ASSERT_TRUE(reader.readString(name));
    EXPECT_EQ(reader.remaining(), 4u);
    ASSERT_TRUE(reader.readBytes(4, rest));
    EXPECT_EQ(byte, 7);
    EXPECT_EQ(i16, -2);
    EXPECT_EQ(i32, 256);
    EXPECT_EQ(name, "name");
    EXPECT_EQ(rest, "rest");
    EXPECT_TRUE(reader.atEnd());
}

TEST(ProtoFraming, FieldReaderFailsOnShortDataAndStaysFailed) {
    std::string data = lit("\0\x01\0");
    FieldReader reader(bytes(data), data.size());
    int32_t i32 = 99;
    EXPECT_FALSE(reader.readInt32(i32));
    EXPECT_EQ(i32, 99);
    EXPECT_TRUE(reader.failed());
    // Enough bytes for these, but a failed reader never recovers.
    int16_t i16;
    uint8_t byte;
    EXPECT_FALSE(reader.readInt16(i16));
    EXPECT_FALSE(reader.readByte(byte));
    EXPECT_EQ(reader.remaining(), 0u);
    EXPECT_FALSE(reader.atEnd());
}

TEST(ProtoFraming, FieldReaderStringNeedsItsNul) {
    std::string data = "abc";
    FieldReader reader(bytes(data), data.size());
    std::string_view value;
    EXPECT_FALSE(reader.readString(value));

    FieldReader empty(nullptr, 0);
    EXPECT_FALSE(empty.readString(value));

    std::string two = lit("\0x\0");
    FieldReader strings(bytes(two), two.size());
    ASSERT_TRUE(strings.readString(value));
    EXPECT_EQ(value, "");
    ASSERT_TRUE(strings.readString(value));
    EXPECT_EQ(value, "x");
    EXPECT_TRUE(strings.atEnd());
}

TEST(ProtoFraming, FieldReaderBytesBeyondTheEndFail) {
    std::string data = "abc";
    FieldReader reader(bytes(data), data.size());
    std::string_view value;
    EXPECT_FALSE(reader.readBytes(4, value));
    FieldReader huge(bytes(data), data.size());
    EXPECT_FALSE(huge.readBytes(static_cast<size_t>(-1), value));
    FieldReader exact(bytes(data), data.size());
    EXPECT_TRUE(exact.readBytes(3, value));
    EXPECT_TRUE(exact.readBytes(0, value));
    EXPECT_TRUE(exact.atEnd());
}

}  // namespace
}  // namespace sluice::proto
