#include "conn/cancel_forwarder.h"

#include <fmt/format.h>

#include "proto/builders.h"
#include "util/log.h"

namespace sluice::conn {

CancelForwarder::CancelForwarder(uv_loop_t* loop, std::string host, int port, int32_t pid, int32_t key, Done done)
    : socket_(loop, *this), host_(std::move(host)), port_(port), pid_(pid), key_(key), done_(std::move(done)) {}

void CancelForwarder::start() {
    const bool isUnix = !host_.empty() && host_[0] == '/';
    if (socket_.open(isUnix) != 0) {
        done_(*this);
        return;
    }
    if (isUnix) {
        socket_.connectUnix(fmt::format("{}/.s.PGSQL.{}", host_, port_));
        return;
    }
    sockaddr_storage ss{};
    if (uv_ip4_addr(host_.c_str(), port_, reinterpret_cast<sockaddr_in*>(&ss)) != 0 &&
        uv_ip6_addr(host_.c_str(), port_, reinterpret_cast<sockaddr_in6*>(&ss)) != 0) {
        // TODO(discovery): host names; the server was reached by name, so resolve it again here.
        SLOG_WARN("cannot forward cancel request to {}: host names are not supported for cancels yet", host_);
        socket_.close();
        return;
    }
    if (socket_.connectTcp(reinterpret_cast<sockaddr*>(&ss)) != 0) socket_.close();
}

void CancelForwarder::onSocketConnected(int status) {
    if (status != 0) {
        socket_.close();
        return;
    }
    std::string out;
    proto::appendCancelRequest(out, pid_, key_);
    socket_.write(out);
    if (socket_.queuedBytes() == 0) socket_.close();
}

}  // namespace sluice::conn
