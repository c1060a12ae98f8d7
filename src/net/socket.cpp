#include "net/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "net/send_batcher.h"

namespace sluice::net {

namespace {

// Bytes that the kernel did not take at once; freed when libuv reports them written.
struct PendingWrite {
    uv_write_t req;
    std::string bytes;
    Socket* socket;
};

// "a.b.c.d:port", written by hand: each log line about a client names its peer (log_connections
// writes several per login), and inet_ntop (through sprintf) and fmt took 2,200 instructions of a
// login's 86,000 for one.
std::string formatIpv4(const sockaddr_in& in) {
    char text[sizeof "255.255.255.255:65535"];
    size_t length = 0;
    auto put = [&](unsigned value) {  // value < 100000
        char digits[5];
        size_t n = 0;
        do {
            digits[n++] = static_cast<char>('0' + value % 10);
            value /= 10;
        } while (value != 0 && n < sizeof digits);
        while (n > 0) text[length++] = digits[--n];
    };
    const auto* octets = reinterpret_cast<const uint8_t*>(&in.sin_addr);
    for (int i = 0; i < 4; ++i) {
        put(octets[i]);
        text[length++] = i < 3 ? '.' : ':';
    }
    put(ntohs(in.sin_port));
    return std::string(text, length);
}

}  // namespace

std::string formatAddress(const sockaddr_storage& ss) {
    char text[INET6_ADDRSTRLEN] = {0};
    if (ss.ss_family == AF_INET) return formatIpv4(*reinterpret_cast<const sockaddr_in*>(&ss));
    if (ss.ss_family == AF_INET6) {
        auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        return fmt::format("[{}]:{}", text, ntohs(in6->sin6_port));
    }
    return "unix";
}

void splitAddress(const std::string& address, std::string& host, int& port) {
    const size_t colon = address.rfind(':');
    host = address.substr(0, colon);
    if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    port = colon == std::string::npos ? 0 : std::atoi(address.c_str() + colon + 1);
}

Socket::Socket(uv_loop_t* loop, SocketOwner& owner) : owner_(owner) {
    std::memset(&h_, 0, sizeof h_);
    // The loop is kept in the handle's own (public, read-only for libuv's users) field, which
    // uv_*_init sets to the same value and uv_close leaves: one pointer less per connection.
    h_.handle.loop = loop;
}

Socket::~Socket() {
    if (SendBatcher* batcher = SendBatcher::of(loop())) batcher->forget(*this);
}

int Socket::open(bool isUnix) {
    isUnix_ = isUnix;
    int rc = isUnix ? uv_pipe_init(loop(), &h_.pipe, 0) : uv_tcp_init(loop(), &h_.tcp);
    if (rc != 0) return rc;
    h_.handle.data = this;
    open_ = true;
    return 0;
}

DetachedStream::DetachedStream(DetachedStream&& other) noexcept
    : fd(std::exchange(other.fd, -1)), isUnix(other.isUnix), tls(std::move(other.tls)) {}

DetachedStream& DetachedStream::operator=(DetachedStream&& other) noexcept {
    if (this != &other) {
        if (fd >= 0) ::close(fd);
        fd = std::exchange(other.fd, -1);
        isUnix = other.isUnix;
        tls = std::move(other.tls);
    }
    return *this;
}

DetachedStream::~DetachedStream() {
    if (fd >= 0) ::close(fd);
}

std::optional<DetachedStream> Socket::detach() {
    if (!quiet()) return std::nullopt;
    DetachedStream stream;
    // Close-on-exec like libuv's own descriptors (a plain dup() drops the flag).
    stream.fd = ::fcntl(fd(), F_DUPFD_CLOEXEC, 0);
    if (stream.fd < 0) return std::nullopt;
    stream.isUnix = isUnix_;
    stream.tls = std::move(tls_);
    // uv_close takes the original descriptor out of this loop's epoll set before closing it,
    // and a close() with the dup still open sends nothing to the peer.
    closing_ = true;
    stopReading();
    uv_close(&h_.handle, &Socket::onClosed);
    return stream;
}

int Socket::adopt(DetachedStream stream) {
    if (int rc = open(stream.isUnix); rc != 0) return rc;
    int rc = stream.isUnix ? uv_pipe_open(&h_.pipe, stream.fd) : uv_tcp_open(&h_.tcp, stream.fd);
    if (rc != 0) {
        close();
        return rc;
    }
    stream.fd = -1;  // the handle's now
    if (!isUnix_) uv_tcp_nodelay(&h_.tcp, 1);
    tls_ = std::move(stream.tls);
    return 0;
}

int Socket::acceptFrom(uv_stream_t* listener) {
    int rc = uv_accept(listener, &h_.stream);
    if (rc == 0 && !isUnix_) uv_tcp_nodelay(&h_.tcp, 1);
    return rc;
}

Socket::Requests& Socket::requests() {
    if (!requests_) requests_ = std::make_unique<Requests>();
    return *requests_;
}

int Socket::connectTcp(const sockaddr* address) {
    uv_connect_t& request = requests().connect;
    request.data = this;
    uv_tcp_nodelay(&h_.tcp, 1);
    return uv_tcp_connect(&request, &h_.tcp, address, &Socket::onConnected);
}

void Socket::connectUnix(const std::string& path) {
    uv_connect_t& request = requests().connect;
    request.data = this;
    uv_pipe_connect(&request, &h_.pipe, path.c_str(), &Socket::onConnected);
}

void Socket::startReading(size_t chunkSize) {
    chunkSize_ = static_cast<uint32_t>(chunkSize);  // pkt_buf, at most a few megabytes
    if (reading_ || !isOpen()) return;
    if (uv_read_start(&h_.stream, &Socket::onAlloc, &Socket::onRead) == 0) reading_ = true;
}

void Socket::readAvailable() {
    if (!reading_ || tls_) return;
    // Read onto the stack, so that a client whose first packet has not come yet gets no buffer
    // to wait with: made at each accept of a login storm, such buffers left the heap full of
    // holes (+170 bytes of RSS per idle client at 10,000). More than this is left for libuv.
    uint8_t first[4096];
    const ssize_t n = ::read(fd(), first, sizeof first);
    if (n > 0) {
        input_.append(first, static_cast<size_t>(n));
        owner_.onSocketRead(input_);
    } else if (n == 0) {
        stopReading();
        owner_.onSocketEnd("EOF");
    }
    // EAGAIN: nothing yet, libuv reports it when it comes; another error it reports too.
}

void Socket::stopReading() {
    if (!reading_) return;
    uv_read_stop(&h_.stream);
    reading_ = false;
}

void Socket::write(const void* data, size_t size) {
    if (size == 0 || !isOpen()) return;
    if (tls_) {
        tls_->encrypt(data, size);
        std::string cipher = tls_->takeOutput();
        writeRaw(cipher.data(), cipher.size());
        return;
    }
    writeRaw(data, size);
}

bool Socket::startTls(std::unique_ptr<TlsSession> session) {
    tls_ = std::move(session);
    if (!input_.empty()) {
        tls_->feed(input_.data(), input_.size());
        input_.consume(input_.size());
    }
    // No callbacks from inside the owner's own call: a first flight can neither finish the
    // handshake nor carry application data, so only a failure can come of it.
    const TlsSession::Status status = tls_->pump(input_);
    std::string cipher = tls_->takeOutput();
    if (!cipher.empty()) writeRaw(cipher.data(), cipher.size());
    return status != TlsSession::Status::Failed;
}

void Socket::pumpTls() {
    const bool wasReady = tls_->ready();
    const size_t before = input_.size();
    const TlsSession::Status status = tls_->pump(input_);
    std::string cipher = tls_->takeOutput();
    if (!cipher.empty()) writeRaw(cipher.data(), cipher.size());
    if (status == TlsSession::Status::Failed) {
        stopReading();
        owner_.onSocketEnd(tls_->error());
        return;
    }
    if (!wasReady && tls_->ready()) owner_.onSocketTlsReady();
    if (input_.size() > before && isOpen()) owner_.onSocketRead(input_);
    if (status == TlsSession::Status::Closed && isOpen()) {
        stopReading();
        owner_.onSocketEnd("EOF");
    }
}

void Socket::writeRaw(const void* data, size_t size) {
    if (size == 0) return;
    if (queuedBytes_ == 0 && !failed_) {
        if (SendBatcher* batcher = SendBatcher::of(loop()); batcher != nullptr && batcher->usable() && !closing_) {
            batcher->add(*this, data, size);
            return;
        }
        uv_buf_t buf = uv_buf_init(const_cast<char*>(static_cast<const char*>(data)), static_cast<unsigned>(size));
        int written = uv_try_write(&h_.stream, &buf, 1);
        if (written == static_cast<int>(size)) return;
        if (written > 0) {
            data = static_cast<const char*>(data) + written;
            size -= static_cast<size_t>(written);
        }
        // Any other failure is left to uv_write below, which reports it from the loop, so that the
        // owner never sees its connection end in the middle of its own call.
    }
    writeLater(data, size);
}

void Socket::writeLater(const void* data, size_t size) {
    auto pending = std::make_unique<PendingWrite>();
    pending->bytes.assign(static_cast<const char*>(data), size);
    pending->socket = this;
    uv_buf_t buf = uv_buf_init(pending->bytes.data(), static_cast<unsigned>(size));
    queuedBytes_ += size;
    int rc = uv_write(&pending->req, &h_.stream, &buf, 1, &Socket::onWritten);
    if (rc != 0) {
        // The stream is unusable; EOF or a read error will end the connection.
        queuedBytes_ -= size;
        failed_ = true;
        return;
    }
    pending->req.data = pending.get();
    pending.release();  // owned by libuv until onWritten
}

void Socket::close() {
    if (!open_ || closing_) return;
    if (tls_) {
        tls_->shutdown();  // close_notify, so the peer sees a clean end
        std::string cipher = tls_->takeOutput();
        writeRaw(cipher.data(), cipher.size());
    }
    // What this iteration wrote goes to libuv's queue, to be written before the shutdown below.
    if (SendBatcher* batcher = SendBatcher::of(loop())) batcher->giveBack(*this);
    closing_ = true;
    stopReading();
    if (queuedBytes_ > 0 && !failed_) {
        uv_shutdown_t& request = requests().shutdown;
        request.data = this;
        if (uv_shutdown(&request, &h_.stream, &Socket::onShutdown) == 0) return;
    }
    uv_close(&h_.handle, &Socket::onClosed);
}

void Socket::onShutdown(uv_shutdown_t* req, int) {
    auto* self = static_cast<Socket*>(req->data);
    uv_close(&self->h_.handle, &Socket::onClosed);
}

sockaddr_storage Socket::peerSockaddr() const {
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (isUnix_ || !open_ || uv_tcp_getpeername(&h_.tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
        ss.ss_family = AF_UNSPEC;
    return ss;
}

std::string Socket::localAddress() const {
    if (isUnix_ || !open_) return "unix";
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getsockname(&h_.tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
    return formatAddress(ss);
}

int Socket::fd() const {
    uv_os_fd_t fd = -1;
    if (open_) uv_fileno(&h_.handle, &fd);
    return fd;
}

std::optional<std::pair<uid_t, pid_t>> Socket::peerCredentials() const {
    const int fd = this->fd();
    if (!isUnix_ || fd < 0) return std::nullopt;
    ucred credentials{};
    socklen_t len = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &len) != 0) return std::nullopt;
    return std::make_pair(credentials.uid, credentials.pid);
}

void Socket::applyTcpOptions(const TcpOptions& options) {
    const int fd = this->fd();
    if (isUnix_ || fd < 0) return;
    // Set directly rather than through uv_tcp_keepalive, which forces an idle time of its own.
    int on = options.keepalive ? 1 : 0;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    if (options.keepalive) {
        if (options.keepIdle > 0) setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &options.keepIdle, sizeof(int));
        if (options.keepInterval > 0) setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &options.keepInterval, sizeof(int));
        if (options.keepCount > 0) setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &options.keepCount, sizeof(int));
    }
    if (options.userTimeoutMs > 0) setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &options.userTimeoutMs, sizeof(int));
}

void Socket::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    auto* self = static_cast<Socket*>(handle->data);
    IoBuffer& target = self->tls_ ? self->tls_->records() : self->input_;
    uint8_t* space = target.reserve(self->chunkSize_);
    *buf = uv_buf_init(reinterpret_cast<char*>(space), static_cast<unsigned>(target.writable()));
}

void Socket::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
    auto* self = static_cast<Socket*>(stream->data);
    if (nread > 0 && self->tls_) {
        IoBuffer& cipher = self->tls_->records();
        cipher.commit(static_cast<size_t>(nread));
        self->tls_->feed(cipher.data(), cipher.size());
        cipher.consume(cipher.size());
        self->pumpTls();
    } else if (nread > 0) {
        self->input_.commit(static_cast<size_t>(nread));
        self->owner_.onSocketRead(self->input_);
    } else if (nread < 0) {
        self->stopReading();
        self->owner_.onSocketEnd(nread == UV_EOF ? "EOF" : uv_strerror(static_cast<int>(nread)));
    }
}

void Socket::onWritten(uv_write_t* req, int status) {
    std::unique_ptr<PendingWrite> pending(static_cast<PendingWrite*>(req->data));
    Socket* self = pending->socket;
    self->queuedBytes_ -= pending->bytes.size();
    if (status == UV_ECANCELED || self->closing_) return;
    if (status < 0) {
        self->failed_ = true;
        self->owner_.onSocketEnd(uv_strerror(status));
        return;
    }
    if (self->queuedBytes_ == 0) self->owner_.onSocketDrained();
}

void Socket::onConnected(uv_connect_t* req, int status) {
    auto* self = static_cast<Socket*>(req->data);
    if (status == UV_ECANCELED || self->closing_) return;
    self->owner_.onSocketConnected(status);
}

void Socket::onClosed(uv_handle_t* handle) {
    auto* self = static_cast<Socket*>(handle->data);
    self->open_ = false;
    self->owner_.onSocketClosed();
}

}  // namespace sluice::net
