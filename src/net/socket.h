// One libuv stream (TCP or unix socket) owned by a connection: reads into the owner's buffer,
// writes without copying when the kernel takes the bytes at once, and closes asynchronously.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <string_view>

#include "net/io_buffer.h"
#include "net/tls.h"

namespace sluice::net {

class SendBatcher;  // the loop's batch of output (send_batcher.h)

// Callbacks a Socket makes to the connection that owns it. All run on the socket's loop thread,
// never re-entrantly from inside a Socket method.
class SocketOwner {
public:
    virtual ~SocketOwner() = default;
    virtual void onSocketRead(IoBuffer& input) = 0;
    virtual void onSocketEnd(std::string_view reason) = 0;  // EOF or an IO error
    virtual void onSocketConnected(int /*status*/) {}
    virtual void onSocketDrained() {}                       // queued output fully written
    virtual void onSocketTlsReady() {}                      // the TLS handshake completed
    virtual void onSocketClosed() = 0;                      // the handle is gone; owner may be freed
};

// A connected stream on its way from one loop to another (DESIGN §3, a server handed between
// workers): its own descriptor (a dup; the old handle closes its original) and its TLS session,
// whose state lives in memory, not in the descriptor. Closed here if nobody adopts it.
struct DetachedStream {
    DetachedStream() = default;
    DetachedStream(DetachedStream&& other) noexcept;
    DetachedStream& operator=(DetachedStream&& other) noexcept;
    ~DetachedStream();
    int fd = -1;
    bool isUnix = false;
    std::unique_ptr<TlsSession> tls;
};

// "127.0.0.1:5432", "[::1]:5432", or "unix" for another family: how logs and SHOW commands name an
// address (localAddress(), PeerAddress).
std::string formatAddress(const sockaddr_storage& address);
// "127.0.0.1:5432" / "[::1]:5432" (as formatAddress() writes them) into host and port.
void splitAddress(const std::string& address, std::string& host, int& port);

class Socket {
public:
    Socket(uv_loop_t* loop, SocketOwner& owner);
    ~Socket();
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    // Makes the handle (TCP or unix); returns a libuv error code (0 = ok). Once open, the
    // socket always ends through close() and onSocketClosed, whatever happens next.
    int open(bool isUnix);
    int acceptFrom(uv_stream_t* listener);  // after open()
    int connectTcp(const sockaddr* address);  // after open(false)
    void connectUnix(const std::string& path);  // after open(true)

    void startReading(size_t chunkSize);
    // Reads what has already arrived and hands it to the owner now (onSocketRead, or
    // onSocketEnd at EOF), without waiting for epoll to say so: a client's first packet is
    // usually there by the time it is accepted. Plaintext only; call where the owner may be
    // called back.
    void readAvailable();
    void stopReading();
    bool isReading() const { return reading_; }

    // Queues the bytes; an error is reported later through onSocketEnd. On a loop with a
    // SendBatcher they go out with the iteration's other output, else they are written at once.
    void write(const void* data, size_t size);
    void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
    size_t queuedBytes() const { return queuedBytes_; }

    // From now on the stream carries TLS: what was read so far and not consumed is taken as the
    // first ciphertext (PostgreSQL 17's direct TLS). The connecting side starts the handshake.
    // False when the first bytes already failed it (tls()->error() says why).
    bool startTls(std::unique_ptr<TlsSession> session);
    bool isTls() const { return tls_ != nullptr; }
    const TlsSession* tls() const { return tls_.get(); }

    // A quiet stream (nothing queued, batched or read and unconsumed) leaves this loop for
    // another: the stream, then this handle closes as close() does (onSocketClosed follows),
    // without a shutdown or close_notify — the connection itself stays up. nullopt when it is
    // not quiet; then nothing changed.
    std::optional<DetachedStream> detach();
    // Whether detach() would take it now.
    bool quiet() const {
        return isOpen() && queuedBytes_ == 0 && batchSlot_ == kNoBatchSlot && input_.empty() &&
               (!tls_ || tls_->records().empty()) && !failed_;
    }
    // Instead of open(): takes a stream another loop detached. A libuv error code (0 = ok);
    // on an error the stream is closed.
    int adopt(DetachedStream stream);

    // Closes after the queued output is written (a last error message reaches the peer).
    void close();
    bool isOpen() const { return open_ && !closing_; }
    // A libuv handle exists (from open() until onSocketClosed): its owner must outlive it.
    bool hasHandle() const { return open_; }
    bool isUnix() const { return isUnix_; }

    // "127.0.0.1:5432", "[::1]:5432", or "unix" for a unix socket (SHOW's local addr and port).
    std::string localAddress() const;
    // The peer's address as the kernel gives it (family AF_UNSPEC for unix sockets).
    sockaddr_storage peerSockaddr() const;
    int fd() const;
    // The uid and pid of the process at the other end of a unix socket; nullopt otherwise.
    std::optional<std::pair<uid_t, pid_t>> peerCredentials() const;
    // tcp_keepalive, tcp_keepidle, tcp_keepintvl, tcp_keepcnt, tcp_user_timeout; 0 = system default.
    struct TcpOptions {
        bool keepalive = true;
        int keepIdle = 0;
        int keepInterval = 0;
        int keepCount = 0;
        int userTimeoutMs = 0;
    };
    void applyTcpOptions(const TcpOptions& options);

    IoBuffer& input() { return input_; }
    size_t bufferedInput() const { return input_.size(); }

private:
    friend class SendBatcher;
    static constexpr uint32_t kNoBatchSlot = UINT32_MAX;

    static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
    static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void onWritten(uv_write_t* req, int status);
    static void onConnected(uv_connect_t* req, int status);
    static void onShutdown(uv_shutdown_t* req, int status);
    static void onClosed(uv_handle_t* handle);
    void writeRaw(const void* data, size_t size);
    // Hands bytes the kernel did not take to libuv, which writes them when there is room.
    void writeLater(const void* data, size_t size);
    // Runs the TLS engine on what arrived: flushes its output, hands plaintext to the owner.
    void pumpTls();

    uv_loop_t* loop() const { return h_.handle.loop; }
    SocketOwner& owner_;
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h_;
    // Allocated when needed: accepted clients never connect, and few close with output pending.
    // (Fields are packed: an idle client is mostly this object.)
    struct Requests {
        uv_connect_t connect;
        uv_shutdown_t shutdown;
    };
    std::unique_ptr<Requests> requests_;
    Requests& requests();
    IoBuffer input_;
    std::unique_ptr<TlsSession> tls_;
    size_t queuedBytes_ = 0;
    uint32_t chunkSize_ = 4096;
    uint32_t batchSlot_ = kNoBatchSlot;  // this iteration's output, held by the loop's SendBatcher
    bool open_ = false;
    bool closing_ = false;
    bool reading_ = false;
    bool isUnix_ = false;
    bool failed_ = false;
};

}  // namespace sluice::net
