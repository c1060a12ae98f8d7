#include "conn/cancel_forwarder.h"

#include "proto/builders.h"

namespace sluice::conn {

CancelForwarder::CancelForwarder(uv_loop_t* loop, CancelTarget target, int32_t pid, int32_t key, Done done)
    : loop_(loop), socket_(loop, *this), target_(std::move(target)), pid_(pid), key_(key), done_(std::move(done)) {}

void CancelForwarder::start() {
    const bool isUnix = !target_.unixPath.empty();
    if (socket_.open(isUnix) != 0) {
        done_(*this, CancelOutcome::Failed);
        return;
    }
    if (isUnix) {
        socket_.connectUnix(target_.unixPath);
        return;
    }
    if (target_.hostName.empty()) {
        connectTo(reinterpret_cast<const sockaddr*>(&target_.address));
        return;
    }
    // The socket is open meanwhile, so abandon() and a failure end the same way (the socket
    // closes, done_ runs).
    const int rc = lookup_.start(loop_, target_.hostName, target_.port, [this](int status, const sockaddr* address) {
        if (status == 0) connectTo(address);
        else socket_.close();
    });
    if (rc != 0) socket_.close();
}

void CancelForwarder::connectTo(const sockaddr* address) {
    if (socket_.connectTcp(address) != 0) socket_.close();
}

void CancelForwarder::abandon() {
    if (sent_) return;  // the server has it: its answer (closing) comes, whatever the wait
    abandoned_ = true;
    socket_.close();
}

void CancelForwarder::onSocketConnected(int status) {
    if (status != 0) {
        socket_.close();
        return;
    }
    std::string out;
    proto::appendCancelRequest(out, pid_, key_);
    socket_.write(out);
    sent_ = true;
    socket_.startReading(64);  // for the server's close
}

void CancelForwarder::onSocketClosed() {
    // The server closes a cancel connection after acting on it (there is no answer to read).
    done_(*this, abandoned_ ? CancelOutcome::TimedOut : sent_ ? CancelOutcome::Delivered : CancelOutcome::Failed);
}

}  // namespace sluice::conn
