#include "net/send_batcher.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "net/socket.h"
#include "util/log.h"

namespace sluice::net {

namespace {
// A slot's buffer grown past this by a large result is freed after its flush, not kept.
constexpr size_t kKeptCapacity = 64 * 1024;
// Slots kept after a burst that wrote to more sockets at once (a shutdown telling 10,000 clients).
constexpr size_t kKeptSlots = 1024;
}  // namespace

std::unique_ptr<SendBatcher> SendBatcher::attach(uv_loop_t* loop, std::string& whyNot) {
    if (const char* off = std::getenv("SLUICE_NO_IO_URING"); off != nullptr && *off != '\0' && std::strcmp(off, "0") != 0) {
        whyNot = "SLUICE_NO_IO_URING is set";
        return nullptr;
    }
    std::unique_ptr<SendBatcher> batcher(new SendBatcher(loop));
    // SUBMIT_ALL (Linux 5.18): a send that fails at submission does not hold back the ones after it.
    int rc = io_uring_queue_init(kRingEntries, &batcher->ring_, IORING_SETUP_SUBMIT_ALL);
    if (rc == -EINVAL) rc = io_uring_queue_init(kRingEntries, &batcher->ring_, 0);
    if (rc < 0) {
        whyNot = std::strerror(-rc);
        return nullptr;
    }
    io_uring_probe* probe = io_uring_get_probe_ring(&batcher->ring_);
    const bool canSend = probe != nullptr && io_uring_opcode_supported(probe, IORING_OP_SEND);
    io_uring_free_probe(probe);
    if (!canSend) {
        io_uring_queue_exit(&batcher->ring_);
        whyNot = "this kernel's io_uring cannot send (Linux 5.6 or later can)";
        return nullptr;
    }
    uv_prepare_init(loop, &batcher->beforePoll_);
    uv_check_init(loop, &batcher->afterPoll_);
    batcher->beforePoll_.data = batcher->afterPoll_.data = batcher.get();
    uv_prepare_start(&batcher->beforePoll_, &SendBatcher::onLoopTurn);
    uv_check_start(&batcher->afterPoll_, &SendBatcher::onPolled);
    // The flushes run on every iteration but do not keep the loop alive by themselves.
    uv_unref(reinterpret_cast<uv_handle_t*>(&batcher->beforePoll_));
    uv_unref(reinterpret_cast<uv_handle_t*>(&batcher->afterPoll_));
    loop->data = batcher.get();
    return batcher;
}

SendBatcher::SendBatcher(uv_loop_t* loop) : loop_(loop) {}

SendBatcher::~SendBatcher() {
    if (of(loop_) != this) return;  // attach failed half way: nothing was started
    flush();
    loop_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&beforePoll_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&afterPoll_), nullptr);
    uv_run(loop_, UV_RUN_NOWAIT);  // runs the close callbacks, so that the loop can be closed
    io_uring_queue_exit(&ring_);
}

void SendBatcher::onLoopTurn(uv_prepare_t* prepare) { static_cast<SendBatcher*>(prepare->data)->flush(); }
void SendBatcher::onPolled(uv_check_t* check) { static_cast<SendBatcher*>(check->data)->flush(); }

void SendBatcher::add(Socket& socket, const void* data, size_t size) {
    if (socket.batchSlot_ == Socket::kNoBatchSlot) {
        if (used_ == pending_.size()) pending_.emplace_back();
        pending_[used_].socket = &socket;
        socket.batchSlot_ = static_cast<uint32_t>(used_++);
    }
    pending_[socket.batchSlot_].bytes.append(static_cast<const char*>(data), size);
}

void SendBatcher::giveBack(Socket& socket) {
    if (socket.batchSlot_ == Socket::kNoBatchSlot) return;
    Pending& pending = pending_[socket.batchSlot_];
    socket.batchSlot_ = Socket::kNoBatchSlot;
    pending.socket = nullptr;
    socket.writeLater(pending.bytes.data(), pending.bytes.size());
    pending.bytes.clear();
}

void SendBatcher::forget(Socket& socket) {
    if (socket.batchSlot_ == Socket::kNoBatchSlot) return;
    pending_[socket.batchSlot_].socket = nullptr;
    pending_[socket.batchSlot_].bytes.clear();
    socket.batchSlot_ = Socket::kNoBatchSlot;
}

void SendBatcher::flush() {
    if (used_ == 0) return;  // both hooks call it every iteration; most have sent nothing since
    if (used_ == 1 && pending_[0].socket != nullptr) {
        // One socket to send to (a lone client's query, its server's answer): a send(2) is one
        // kernel entry as io_uring_enter is, without the ring's submission and completion work.
        Pending& only = pending_[0];
        const ssize_t sent = ::send(only.socket->fd(), only.bytes.data(), only.bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        settle(only, static_cast<int>(std::clamp<ssize_t>(sent, 0, INT_MAX)));  // the rest goes to libuv
    }
    for (size_t begin = 0; !failed_ && begin < used_; begin += kRingEntries)
        sendChunk(begin, std::min(used_, begin + kRingEntries));
    for (size_t i = 0; i < used_; ++i) {
        if (pending_[i].socket != nullptr) settle(pending_[i], 0);  // not sent: the ring failed
        std::string& bytes = pending_[i].bytes;
        if (bytes.capacity() > kKeptCapacity) std::string().swap(bytes);
        bytes.clear();
    }
    if (pending_.size() > kKeptSlots) {
        pending_.resize(kKeptSlots);
        pending_.shrink_to_fit();
    }
    used_ = 0;
}

void SendBatcher::sendChunk(size_t begin, size_t end) {
    unsigned submitted = 0;
    for (size_t i = begin; i < end; ++i) {
        Pending& pending = pending_[i];
        if (pending.socket == nullptr) continue;
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);  // never null: a chunk fits the ring
        // MSG_DONTWAIT: a full socket buffer completes at once with EAGAIN (the rest goes to libuv)
        // rather than parking the send in the ring, so every send is settled when submit returns.
        io_uring_prep_send(sqe, pending.socket->fd(), pending.bytes.data(), pending.bytes.size(),
                           MSG_DONTWAIT | MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, i);
        ++submitted;
    }
    if (submitted == 0) return;
    int rc;
    do {
        rc = io_uring_submit_and_wait(&ring_, submitted);
    } while (rc == -EINTR || rc == -EAGAIN || rc == -EBUSY);
    if (rc < 0) {
        // Nothing was sent. flush() hands it all to libuv, and this loop stops batching: the ring is
        // never entered again, so these sends cannot go out twice.
        SLOG_ERROR("io_uring submit failed ({}): writing each message directly from now on", std::strerror(-rc));
        failed_ = true;
        return;
    }
    for (unsigned settled = 0; settled < submitted; ++settled) {
        io_uring_cqe* cqe = nullptr;
        while (io_uring_wait_cqe(&ring_, &cqe) == -EINTR) {
        }
        settle(pending_[io_uring_cqe_get_data64(cqe)], cqe->res);
        io_uring_cqe_seen(&ring_, cqe);
    }
}

// What the kernel did not take (all of it on an error) goes to the socket's libuv queue, which
// sends it when there is room or reports the error from the loop, as a direct write would.
void SendBatcher::settle(Pending& pending, int result) {
    Socket& socket = *pending.socket;
    pending.socket = nullptr;
    socket.batchSlot_ = Socket::kNoBatchSlot;
    const size_t sent = result > 0 ? static_cast<size_t>(result) : 0;
    if (sent < pending.bytes.size()) socket.writeLater(pending.bytes.data() + sent, pending.bytes.size() - sent);
}

}  // namespace sluice::net
