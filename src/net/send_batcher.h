// Sends what a loop iteration wrote, to every socket, with one io_uring_enter instead of one
// write(2) per message.
//
// A busy pooler forwards dozens of small messages per loop iteration, each to a different
// socket. Every write(2) is a kernel entry, and on a virtual machine an entry alone costs
// about a microsecond: a sixth of the CPU Sluice spends per select-only transaction. The
// batcher collects the bytes sockets write during an iteration and hands them all to the
// kernel at once, after the loop has polled (uv_check) and before it may sleep (uv_prepare),
// so nothing waits longer than the iteration it was written in. Bytes the kernel does not
// take at once (a full socket buffer, an error) go back to their socket, which queues them
// through libuv as it does without a batcher. An iteration that wrote to one socket only (one
// client, one message in flight) sends with send(2): the ring saves nothing there and costs
// its submission and completion work.
#pragma once

#include <liburing.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sluice::net {

class Socket;

class SendBatcher {
public:
    // The batcher of `loop`, made and attached to it (loop->data); nullptr when io_uring cannot
    // be used (an old kernel, a seccomp profile that forbids it, SLUICE_NO_IO_URING set), with
    // the reason in `whyNot`: sockets on that loop then write directly.
    static std::unique_ptr<SendBatcher> attach(uv_loop_t* loop, std::string& whyNot);
    // The batcher attached to `loop`, if any. uv_loop_init keeps loop->data as it was, so a loop
    // must start zeroed (`uv_loop_t loop{}`) for this to say "none".
    static SendBatcher* of(uv_loop_t* loop) { return static_cast<SendBatcher*>(loop->data); }

    ~SendBatcher();
    SendBatcher(const SendBatcher&) = delete;
    SendBatcher& operator=(const SendBatcher&) = delete;

    // False after the ring failed: sockets then write directly.
    bool usable() const { return !failed_; }
    // Keeps the bytes to send with this iteration's others (after what the socket already has here).
    void add(Socket& socket, const void* data, size_t size);
    // Gives the socket's unsent bytes back to it (queued through libuv): it is closing.
    void giveBack(Socket& socket);
    // Forgets the socket's unsent bytes: it is being destroyed.
    void forget(Socket& socket);
    // Sends everything collected. Public for tests; the loop calls it itself.
    void flush();

private:
    struct Pending {
        Socket* socket = nullptr;  // null once given back or forgotten
        std::string bytes;
    };

    explicit SendBatcher(uv_loop_t* loop);
    void sendChunk(size_t begin, size_t end);
    void settle(Pending& pending, int result);
    static void onLoopTurn(uv_prepare_t* prepare);
    static void onPolled(uv_check_t* check);

    static constexpr unsigned kRingEntries = 256;
    uv_loop_t* loop_;
    io_uring ring_{};
    uv_prepare_t beforePoll_{};
    uv_check_t afterPoll_{};
    std::vector<Pending> pending_;  // [0, used_) hold this iteration's output
    size_t used_ = 0;
    bool failed_ = false;
};

}  // namespace sluice::net
