#include "conn/handed_client.h"

#include <cstring>

namespace sluice::conn {

namespace {

// Bumped when the layout changes: a process never reads another version's clients.
constexpr uint32_t kVersion = 1;

class Writer {
public:
    void u32(uint32_t value) {
        for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<char>((value >> shift) & 0xff));
    }
    void i64(int64_t value) {
        u32(static_cast<uint32_t>(static_cast<uint64_t>(value) >> 32));
        u32(static_cast<uint32_t>(value));
    }
    void text(std::string_view value) {
        u32(static_cast<uint32_t>(value.size()));
        out_.append(value);
    }
    void params(const HandedClient::Params& params) {
        u32(static_cast<uint32_t>(params.size()));
        for (const auto& [name, value] : params) {
            text(name);
            text(value);
        }
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

class Reader {
public:
    explicit Reader(std::string_view in) : in_(in) {}
    bool u32(uint32_t& value) {
        if (in_.size() < 4) return false;
        value = 0;
        for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<uint8_t>(in_[i]);
        in_.remove_prefix(4);
        return true;
    }
    bool i64(int64_t& value) {
        uint32_t high = 0, low = 0;
        if (!u32(high) || !u32(low)) return false;
        value = static_cast<int64_t>((static_cast<uint64_t>(high) << 32) | low);
        return true;
    }
    bool text(std::string& value) {
        uint32_t size = 0;
        if (!u32(size) || size > in_.size()) return false;
        value.assign(in_.substr(0, size));
        in_.remove_prefix(size);
        return true;
    }
    // A count of items each at least `minItemSize` bytes: more than the bytes left is a lie.
    bool count(uint32_t& value, size_t minItemSize) { return u32(value) && value <= in_.size() / minItemSize; }
    bool params(HandedClient::Params& params) {
        uint32_t n = 0;
        if (!count(n, 8)) return false;
        params.resize(n);
        for (auto& [name, value] : params)
            if (!text(name) || !text(value)) return false;
        return true;
    }
    bool done() const { return in_.empty(); }

private:
    std::string_view in_;
};

}  // namespace

std::string encodeHandedClient(const HandedClient& client) {
    Writer w;
    w.u32(kVersion);
    w.text(client.user);
    w.text(client.database);
    w.u32(static_cast<uint32_t>(client.cancelPid));
    w.u32(static_cast<uint32_t>(client.cancelKey));
    w.params(client.wanted);
    w.u32(client.startup ? 1 : 0);
    if (client.startup) w.params(*client.startup);
    w.u32(static_cast<uint32_t>(client.statements.size()));
    for (const auto& statement : client.statements) {
        w.text(statement.name);
        w.text(statement.query);
        w.text(statement.paramTypes);
    }
    w.u32(client.scramKeys ? 1 : 0);
    if (const auto& keys = client.scramKeys) {
        w.text(std::string_view(reinterpret_cast<const char*>(keys->clientKey.data()), keys->clientKey.size()));
        w.text(std::string_view(reinterpret_cast<const char*>(keys->serverKey.data()), keys->serverKey.size()));
        w.text(keys->salt);
        w.u32(static_cast<uint32_t>(keys->iterations));
    }
    w.i64(client.connectedAtNs);
    w.u32(client.server ? 1 : 0);
    if (const auto& server = client.server) {
        w.text(server->address);
        w.u32(static_cast<uint32_t>(server->backendPid));
        w.u32(static_cast<uint32_t>(server->backendKey));
        w.params(server->params);
        w.text(server->cancelUnixPath);
        w.text(server->cancelAddress);
        w.text(server->cancelHostName);
        w.u32(static_cast<uint32_t>(server->cancelPort));
        w.i64(server->connectedAtNs);
    }
    return w.take();
}

Result<HandedClient> decodeHandedClient(std::string_view bytes) {
    const Error malformed("malformed handed-over client state");
    Reader r(bytes);
    HandedClient client;
    uint32_t version = 0, pid = 0, key = 0, flag = 0, statements = 0;
    if (!r.u32(version)) return malformed;
    if (version != kVersion)
        return Error{"handed-over client state of version " + std::to_string(version) + ", expected " +
                     std::to_string(kVersion)};
    if (!r.text(client.user) || !r.text(client.database) || !r.u32(pid) || !r.u32(key) || !r.params(client.wanted) ||
        !r.u32(flag) || flag > 1)
        return malformed;
    client.cancelPid = static_cast<int32_t>(pid);
    client.cancelKey = static_cast<int32_t>(key);
    if (flag == 1 && !r.params(client.startup.emplace())) return malformed;
    if (!r.count(statements, 12)) return malformed;
    client.statements.resize(statements);
    for (auto& statement : client.statements)
        if (!r.text(statement.name) || !r.text(statement.query) || !r.text(statement.paramTypes)) return malformed;
    if (!r.u32(flag) || flag > 1) return malformed;
    if (flag == 1) {
        auto& keys = client.scramKeys.emplace();
        std::string clientKey, serverKey;
        uint32_t iterations = 0;
        if (!r.text(clientKey) || !r.text(serverKey) || clientKey.size() != keys.clientKey.size() ||
            serverKey.size() != keys.serverKey.size() || !r.text(keys.salt) || !r.u32(iterations))
            return malformed;
        std::memcpy(keys.clientKey.data(), clientKey.data(), clientKey.size());
        std::memcpy(keys.serverKey.data(), serverKey.data(), serverKey.size());
        keys.iterations = static_cast<int>(iterations);
    }
    if (!r.i64(client.connectedAtNs) || !r.u32(flag) || flag > 1) return malformed;
    if (flag == 1) {
        auto& server = client.server.emplace();
        uint32_t backendPid = 0, backendKey = 0, cancelPort = 0;
        if (!r.text(server.address) || !r.u32(backendPid) || !r.u32(backendKey) || !r.params(server.params) ||
            !r.text(server.cancelUnixPath) || !r.text(server.cancelAddress) || !r.text(server.cancelHostName) ||
            !r.u32(cancelPort) || !r.i64(server.connectedAtNs))
            return malformed;
        server.backendPid = static_cast<int32_t>(backendPid);
        server.backendKey = static_cast<int32_t>(backendKey);
        server.cancelPort = static_cast<int32_t>(cancelPort);
    }
    if (!r.done()) return malformed;
    return client;
}

}  // namespace sluice::conn
