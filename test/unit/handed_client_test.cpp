#include "conn/handed_client.h"

#include <gtest/gtest.h>

using namespace sluice;
using conn::HandedClient;

namespace {

HandedClient sample() {
    HandedClient client;
    client.user = "app";
    client.database = "shop";
    client.cancelPid = -2;  // every bit of the key survives
    client.cancelKey = 0x7abcdef0;
    client.wanted = {{"client_encoding", "UTF8"}, {"application_name", "web 1"}};
    client.startup = HandedClient::Params{{"client_encoding", "LATIN1"}};
    client.statements = {{"s1", "select $1", std::string("\0\1\0\0\0\x17", 6)}, {"", "", ""}};
    auto& keys = client.scramKeys.emplace();
    keys.clientKey.fill(0xab);
    keys.serverKey.fill(0x01);
    keys.salt = "c2FsdA==";
    keys.iterations = 4096;
    client.connectedAtNs = 1234567890123456789;
    auto& server = client.server.emplace();
    server.address = "127.0.0.1:5432";
    server.backendPid = 4242;
    server.backendKey = -7;
    server.params = {{"server_version", "17.2"}, {"TimeZone", "UTC"}};
    server.cancelAddress = std::string("\2\0\x15\x38\x7f\0\0\1", 8);
    server.cancelHostName = "db.internal";
    server.cancelPort = 5432;
    server.connectedAtNs = 99;
    return client;
}

}  // namespace

TEST(HandedClient, EverythingSurvivesTheRoundTrip) {
    const HandedClient before = sample();
    auto after = conn::decodeHandedClient(conn::encodeHandedClient(before));
    ASSERT_TRUE(after) << after.error().message;
    EXPECT_EQ(after->user, "app");
    EXPECT_EQ(after->database, "shop");
    EXPECT_EQ(after->cancelPid, -2);
    EXPECT_EQ(after->cancelKey, 0x7abcdef0);
    EXPECT_EQ(after->wanted, before.wanted);
    EXPECT_EQ(after->startup, before.startup);
    EXPECT_EQ(after->statements, before.statements);
    ASSERT_TRUE(after->scramKeys);
    EXPECT_EQ(after->scramKeys->clientKey, before.scramKeys->clientKey);
    EXPECT_EQ(after->scramKeys->serverKey, before.scramKeys->serverKey);
    EXPECT_EQ(after->scramKeys->salt, "c2FsdA==");
    EXPECT_EQ(after->scramKeys->iterations, 4096);
    EXPECT_EQ(after->connectedAtNs, before.connectedAtNs);
    ASSERT_TRUE(after->server);
    EXPECT_EQ(after->server->address, "127.0.0.1:5432");
    EXPECT_EQ(after->server->backendPid, 4242);
    EXPECT_EQ(after->server->backendKey, -7);
    EXPECT_EQ(after->server->params, before.server->params);
    EXPECT_EQ(after->server->cancelUnixPath, "");
    EXPECT_EQ(after->server->cancelAddress, before.server->cancelAddress);
    EXPECT_EQ(after->server->cancelHostName, "db.internal");
    EXPECT_EQ(after->server->cancelPort, 5432);
    EXPECT_EQ(after->server->connectedAtNs, 99);
}

TEST(HandedClient, OptionalPartsMayBeAbsent) {
    HandedClient before = sample();
    before.startup.reset();
    before.statements.clear();
    before.scramKeys.reset();
    before.server.reset();
    auto after = conn::decodeHandedClient(conn::encodeHandedClient(before));
    ASSERT_TRUE(after) << after.error().message;
    EXPECT_FALSE(after->startup);
    EXPECT_FALSE(after->scramKeys);
    EXPECT_TRUE(after->statements.empty());
    EXPECT_FALSE(after->server);
}

TEST(HandedClient, EveryCutAndEveryExtraByteIsRefused) {
    const std::string bytes = conn::encodeHandedClient(sample());
    for (size_t size = 0; size < bytes.size(); ++size)
        EXPECT_FALSE(conn::decodeHandedClient(std::string_view(bytes).substr(0, size))) << "cut at " << size;
    std::string longer = bytes;
    longer.push_back('x');
    EXPECT_FALSE(conn::decodeHandedClient(longer));
}

TEST(HandedClient, AnotherVersionIsRefusedByName) {
    std::string bytes = conn::encodeHandedClient(sample());
    bytes[3] = 9;
    auto decoded = conn::decodeHandedClient(bytes);
    ASSERT_FALSE(decoded);
    EXPECT_NE(decoded.error().message.find("version 9"), std::string::npos) << decoded.error().message;
}

TEST(HandedClient, ACountLargerThanTheBytesLeftIsRefusedWithoutAllocating) {
    std::string bytes = conn::encodeHandedClient(sample());
    // The wanted-parameters count follows version, user, database, pid and key.
    const size_t at = 4 + (4 + 3) + (4 + 4) + 4 + 4;
    bytes[at] = '\x7f';
    EXPECT_FALSE(conn::decodeHandedClient(bytes));
}
