// ClientConn, part three: a client of the admin console (its login, queries and answers), and
// the client as SHOW CLIENTS / SOCKETS list it.
#include <fmt/format.h>

#include "conn/client_conn.h"
#include "conn/connections.h"
#include "conn/server_conn.h"
#include "conn/tracked_params.h"
#include "conn/worker_report.h"
#include "proto/builders.h"
#include "proto/codes.h"
#include "proto/header.h"
#include "util/log.h"

namespace sluice::conn {

void ClientConn::enterConsole() {
    const auto& settings = connections_.settings();
    if (!adminUser_) {
        // As PgBouncer: admin_users may do everything, stats_users the read-only SHOWs, and with
        // auth_type=any every user is a stats user.
        adminUser_ = listContains(settings.admin_users, user_);
        if (!adminUser_ && !listContains(settings.stats_users, user_) && settings.auth_type != "any") {
            closeWithError(proto::sqlstate::kInvalidAuthorizationSpecification,
                           fmt::format("user \"{}\" is not allowed on the admin console (admin_users, stats_users)", user_));
            return;
        }
    }
    std::string_view limit;
    if (!connections_.registerConsoleClient(*this, listContains(settings.admin_users, user_), limit)) {
        refuseOverClientLimit(limit);
        return;
    }
    std::string out;
    proto::appendAuthenticationOk(out);
    // What drivers look for at login; the console itself speaks UTF-8 text only.
    const std::pair<std::string_view, std::string_view> params[] = {
        {"server_version", SLUICE_VERSION "/sluice"}, {"server_encoding", "UTF8"}, {"client_encoding", "UTF8"},
        {"DateStyle", "ISO, MDY"}, {"TimeZone", "UTC"}, {"standard_conforming_strings", "on"},
        {"integer_datetimes", "on"}, {"is_superuser", "off"}};
    for (const auto& [name, value] : params) proto::appendParameterStatus(out, name, value);
    if (const std::string* name = wanted_.find("application_name"))
        proto::appendParameterStatus(out, "application_name", *name);
    proto::appendBackendKeyData(out, cancelPid_, cancelKey_);
    proto::appendReadyForQuery(out, 'I');
    socket_.write(out);
    state_ = State::Console;
}

void ClientConn::handleConsole(net::IoBuffer& input) {
    auto header = proto::peekHeader(input.data(), input.size());
    if (!header) return;
    if (header->length < 4 || header->length > kMaxAuthMessage) {
        closeWithError(proto::sqlstate::kProtocolViolation, "invalid message length on the admin console");
        return;
    }
    if (input.size() < header->totalSize()) return;
    switch (header->type) {
        case proto::msg::kQuery: {
            std::string query(reinterpret_cast<const char*>(input.data()) + proto::kHeaderSize, header->bodySize());
            input.consume(header->totalSize());
            if (!query.empty() && query.back() == '\0') query.pop_back();
            state_ = State::ConsoleBusy;
            socket_.stopReading();
            connections_.submitConsoleQuery(*this, adminUser_, std::move(query));
            return;
        }
        case proto::msg::kTerminate: close("client close request"); return;
        case proto::msg::kParse:
        case proto::msg::kBind:
        case proto::msg::kExecute:
            closeWithError(proto::sqlstate::kFeatureNotSupported,
                           "extended query protocol not supported by admin console");
            return;
        default:
            closeWithError(proto::sqlstate::kProtocolViolation,
                           fmt::format("unsupported message type '{}' for the admin console", header->type));
            return;
    }
}

void ClientConn::consoleReply(const std::string& bytes, bool closeAfter) {
    if (state_ != State::ConsoleBusy) return;
    socket_.write(bytes);
    if (closeAfter) {
        close("admin console session ended");
        return;
    }
    state_ = State::Console;
    socket_.startReading(static_cast<size_t>(connections_.settings().pkt_buf));
    if (!socket_.input().empty()) handleConsole(socket_.input());
}


void ClientConn::describeRow(ConnectionRow& row) const {
    row.id = id_;
    row.user = user_.empty() ? "(nouser)" : user_;
    row.database = database_.empty() ? "(nodb)" : database_;
    if (replication_ != Replication::None) row.replication = replication_ == Replication::Logical ? "logical" : "physical";
    switch (state_) {
        case State::Waiting:
            row.state = "waiting";
            row.listState = "cl_waiting";
            row.waitMicros = static_cast<int64_t>(secondsSince(waitingSince) * 1e6);
            break;
        case State::Startup:
        case State::Auth:
        case State::WaitWelcome:
            row.state = "login";
            row.listState = "cl_login";
            break;
        default:
            row.state = server_ ? "active" : "idle";
            row.listState = "cl_active";
            break;
    }
    peer_.split(row.remoteAddress, row.remotePort);
    if (socket_.isUnix()) {
        row.localAddress = "unix";
        row.localPort = static_cast<int>(connections_.settings().listen_port);
        if (auto credentials = socket_.peerCredentials()) row.remotePid = credentials->second;
    } else {
        net::splitAddress(socket_.localAddress(), row.localAddress, row.localPort);
    }
    row.connectMicros = unixMicros(connectedAt_);
    const uint64_t lastRequest = std::max(lastActivityUs_, requestUs_);
    row.requestMicros = lastRequest == 0 ? row.connectMicros
                                         : unixMicros(TimePoint(std::chrono::microseconds(lastRequest)));
    row.ptr = reinterpret_cast<uintptr_t>(this);
    row.link = reinterpret_cast<uintptr_t>(server_);
    if (const std::string* name = wanted_.find("application_name")) row.applicationName = *name;
    row.queuedOutput = socket_.queuedBytes();
    row.bufferedInput = socket_.bufferedInput();
    if (socket_.isTls()) row.tls = socket_.tls()->describe();
    row.fd = socket_.fd();
    row.cancelKey = static_cast<int64_t>((static_cast<uint64_t>(static_cast<uint32_t>(cancelPid_)) << 32) |
                                        static_cast<uint32_t>(cancelKey_));
    describeParameters(wanted_, row);
}

}  // namespace sluice::conn
