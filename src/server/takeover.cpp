#include "server/takeover.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "proto/builders.h"
#include "proto/header.h"
#include "util/log.h"

namespace sluice::server {

namespace {

constexpr std::string_view kTaskListener = "listener";
constexpr std::string_view kTaskHttp = "http";
constexpr std::string_view kTaskListening = "listening";  // every listening socket has been sent
constexpr std::string_view kTaskClient = "client";
// Limits the login and the listening sockets, not the clients (those come as they come to rest).
constexpr int kStartSeconds = 10;
constexpr uint32_t kMaxMessage = 64u << 20;
constexpr std::chrono::milliseconds kHangUpCheck{100};

std::string errorMessage(const std::string& body) {
    for (size_t pos = 0; pos < body.size() && body[pos] != '\0';) {
        const char field = body[pos++];
        const size_t end = body.find('\0', pos);
        if (end == std::string::npos) break;
        if (field == 'M') return body.substr(pos, end - pos);
        pos = end + 1;
    }
    return "unknown error";
}

void setReceiveTimeout(int fd, int seconds) {
    timeval limit{seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
}

bool sendAll(int fd, const char* data, size_t size) {
    while (size > 0) {
        const ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) continue;
        if (sent <= 0) return false;
        data += sent;
        size -= static_cast<size_t>(sent);
    }
    return true;
}

}  // namespace

// ---- the old process's end ----

TakeoverSender::TakeoverSender(int fd) : fd_(fd) {
    // Blocking from here on: the thread waits for the new process to read, not a loop.
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
    thread_ = std::thread([this] { run(); });
}

TakeoverSender::~TakeoverSender() {
    finish();
    // Not finished: the process is leaving at once (SIGQUIT); a write blocked on a new process
    // that does not read must not hold it.
    if (!finished()) ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
}

void TakeoverSender::sendListener(int fd) { queue({std::string(kTaskListener), {}, {fd}}); }
void TakeoverSender::sendHttpListener(int fd) { queue({std::string(kTaskHttp), {}, {fd}}); }
void TakeoverSender::sendListenersDone() { queue({std::string(kTaskListening), {}, {}}); }

void TakeoverSender::sendClient(conn::LeavingClient client) {
    Row row{std::string(kTaskClient), conn::encodeHandedClient(client.state), {std::exchange(client.stream.fd, -1)}};
    if (client.serverStream.fd >= 0) row.fds.push_back(std::exchange(client.serverStream.fd, -1));
    queue(std::move(row));
}

void TakeoverSender::finish() {
    std::lock_guard lock(mutex_);
    finishing_ = true;
    wake_.notify_one();
}

bool TakeoverSender::finished() const {
    std::lock_guard lock(mutex_);
    return finished_;
}

bool TakeoverSender::failed() const {
    std::lock_guard lock(mutex_);
    return failed_;
}

size_t TakeoverSender::clientsSent() const {
    std::lock_guard lock(mutex_);
    return clientsSent_;
}

void TakeoverSender::queue(Row row) {
    std::lock_guard lock(mutex_);
    if (finished_) {  // too late: nobody will read it
        for (int fd : row.fds) ::close(fd);
        return;
    }
    rows_.push_back(std::move(row));
    wake_.notify_one();
}

bool TakeoverSender::peerGone() const {
    pollfd watch{fd_, POLLRDHUP, 0};
    return ::poll(&watch, 1, 0) > 0 && (watch.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

bool TakeoverSender::write(const std::string& bytes, const std::vector<int>& fds) {
    if (fds.empty()) return sendAll(fd_, bytes.data(), bytes.size());
    // The descriptors ride on the row's first bytes; the new process takes them with the row.
    std::array<char, CMSG_SPACE(sizeof(int) * 2)> control{};
    if (fds.size() > 2) return false;
    iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control.data();
    message.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
    ssize_t sent;
    do sent = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent <= 0) return false;
    return sendAll(fd_, bytes.data() + sent, bytes.size() - static_cast<size_t>(sent));
}

void TakeoverSender::run() {
    const proto::Column columns[] = {{"task", 25, -1}, {"state", 17, -1}};
    std::string header;
    proto::appendRowDescription(header, columns);
    bool ok = write(header, {});
    for (;;) {
        Row row;
        {
            std::unique_lock lock(mutex_);
            // While nothing is to be sent, look now and then whether the new process is still
            // there: one that died must not take clients with it (the old process keeps them).
            while (!wake_.wait_for(lock, kHangUpCheck, [this] { return !rows_.empty() || finishing_; }))
                if (ok && peerGone()) {
                    SLOG_ERROR("TAKEOVER: the new process went away");
                    ok = false;
                    failed_ = true;
                }
            if (rows_.empty()) break;  // finishing, all sent
            row = std::move(rows_.front());
            rows_.pop_front();
        }
        if (ok) {
            std::string bytes;
            const std::optional<std::string> values[] = {row.task, row.state};
            proto::appendDataRow(bytes, values);
            ok = write(bytes, row.fds);
            if (!ok) {
                std::lock_guard lock(mutex_);
                failed_ = true;
            }
            if (!ok) SLOG_ERROR("TAKEOVER: the new process stopped reading ({}); what was not sent is closed",
                                std::strerror(errno));
            else if (row.task == kTaskClient) {
                std::lock_guard lock(mutex_);
                ++clientsSent_;
            }
        }
        for (int fd : row.fds) ::close(fd);
    }
    if (ok) {
        std::string end;
        proto::appendCommandComplete(end, "TAKEOVER");
        proto::appendReadyForQuery(end, 'I');
        write(end, {});
    }
    std::lock_guard lock(mutex_);
    failed_ = !ok;
    finished_ = true;
}

// ---- the new process's end ----

void TakeoverReceiver::Listeners::closeAll() {
    for (int fd : pooler) ::close(fd);
    for (int fd : http) ::close(fd);
    pooler.clear();
    http.clear();
}

Result<std::unique_ptr<TakeoverReceiver>> TakeoverReceiver::connect(const std::string& socketPath, std::string& nobody) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error{fmt::format("-R: socket: {}", std::strerror(errno))};
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socketPath.size() >= sizeof address.sun_path) {
        ::close(fd);
        return Error{fmt::format("-R: unix socket path too long: {}", socketPath)};
    }
    std::memcpy(address.sun_path, socketPath.c_str(), socketPath.size() + 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        const int error = errno;
        ::close(fd);
        if (error == ENOENT || error == ECONNREFUSED) {
            nobody = fmt::format("no running process answers on {}", socketPath);
            return std::unique_ptr<TakeoverReceiver>();
        }
        return Error{fmt::format("-R: cannot connect to {}: {}", socketPath, std::strerror(error))};
    }
    std::unique_ptr<TakeoverReceiver> receiver(new TakeoverReceiver(fd));
    setReceiveTimeout(fd, kStartSeconds);
    if (auto status = receiver->login(); !status) return status.error();
    return receiver;
}

TakeoverReceiver::~TakeoverReceiver() {
    if (thread_.joinable()) {
        ::shutdown(fd_, SHUT_RDWR);  // wakes the thread's read
        thread_.join();
    }
    ::close(fd_);
    for (int fd : fds_) ::close(fd);
}

Status TakeoverReceiver::login() {
    std::string out;
    proto::appendStartupMessage(out, {{"user", "pgbouncer"}, {"database", "pgbouncer"}, {"application_name", "sluice -R"}});
    if (!sendAll(fd_, out.data(), out.size())) return Error{fmt::format("-R: cannot send: {}", std::strerror(errno))};
    for (;;) {
        char type = 0;
        std::string body;
        if (auto status = readMessage(type, body); !status) return status;
        if (type == 'E') return Error{fmt::format("-R: the running process refused the login: {}", errorMessage(body))};
        if (type == 'R' && (body.size() < 4 || proto::readU32(reinterpret_cast<const uint8_t*>(body.data())) != 0))
            return Error{"-R: the running process asks for a password; -R must run as the same unix user as the "
                         "running process"};
        if (type == 'Z') return okStatus();
    }
}

Result<TakeoverReceiver::Listeners> TakeoverReceiver::receiveListeners() {
    std::string out;
    proto::appendQuery(out, "TAKEOVER");
    if (!sendAll(fd_, out.data(), out.size())) return Error{fmt::format("-R: cannot send: {}", std::strerror(errno))};
    Listeners listeners;
    auto closeAll = [&listeners] { listeners.closeAll(); };
    for (;;) {
        char type = 0;
        std::string body, task, state;
        if (auto status = readMessage(type, body); !status) {
            closeAll();
            return status.error();
        }
        if (type == 'E') {
            closeAll();
            return Error{fmt::format("-R: the running process refused TAKEOVER: {}", errorMessage(body))};
        }
        if (type == 'C' || type == 'Z') {
            closeAll();
            return Error{"-R: the running process ended the hand-over before its listening sockets"};
        }
        if (type != 'D') continue;
        if (!parseRow(body, task, state)) {
            closeAll();
            return Error{"-R: malformed row from the running process"};
        }
        if (task == kTaskListening) {
            setReceiveTimeout(fd_, 0);  // clients come when they come to rest
            return listeners;
        }
        auto fd = takeFd();
        if (!fd) {
            closeAll();
            return fd.error();
        }
        (task == kTaskHttp ? listeners.http : listeners.pooler).push_back(*fd);
    }
}

void TakeoverReceiver::receiveClients(Adopt adopt, Done done) {
    thread_ = std::thread([this, adopt = std::move(adopt), done = std::move(done)] {
        size_t clients = 0;
        for (;;) {
            char type = 0;
            std::string body, task, state;
            if (auto status = readMessage(type, body); !status) return done(clients, status.error().message);
            if (type == 'E') return done(clients, errorMessage(body));
            if (type == 'Z') return done(clients, {});
            if (type != 'D') continue;
            if (!parseRow(body, task, state) || task != kTaskClient)
                return done(clients, "malformed row from the running process");
            auto client = conn::decodeHandedClient(state);
            conn::LeavingClient leaving;
            for (net::DetachedStream* stream : {&leaving.stream, &leaving.serverStream}) {
                if (stream == &leaving.serverStream && !(client && client->server)) break;
                auto fd = takeFd();
                if (!fd) return done(clients, fd.error().message);
                stream->fd = *fd;
                sockaddr_storage local{};
                socklen_t length = sizeof local;
                stream->isUnix = ::getsockname(*fd, reinterpret_cast<sockaddr*>(&local), &length) == 0 &&
                                 local.ss_family == AF_UNIX;
            }
            if (!client) {
                SLOG_ERROR("-R: a client could not be taken over: {}", client.error().message);
                continue;  // its socket closes: that client reconnects
            }
            leaving.state = std::move(client.value());
            ++clients;
            adopt(std::move(leaving));
        }
    });
}

Status TakeoverReceiver::readMessage(char& type, std::string& body) {
    for (;;) {
        if (in_.size() >= proto::kHeaderSize) {
            const uint32_t length = proto::readU32(reinterpret_cast<const uint8_t*>(in_.data()) + 1);
            if (length < 4 || length > kMaxMessage) return Error{"-R: malformed message from the running process"};
            if (in_.size() >= 1 + static_cast<size_t>(length)) {
                type = in_[0];
                body.assign(in_, proto::kHeaderSize, length - 4);
                in_.erase(0, 1 + static_cast<size_t>(length));
                return okStatus();
            }
        }
        std::array<char, 64 * 1024> buffer;
        std::array<char, CMSG_SPACE(sizeof(int) * 64)> control;
        iovec iov{buffer.data(), buffer.size()};
        msghdr message{};
        message.msg_iov = &iov;
        message.msg_iovlen = 1;
        message.msg_control = control.data();
        message.msg_controllen = control.size();
        const ssize_t got = ::recvmsg(fd_, &message, MSG_CMSG_CLOEXEC);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return Error{fmt::format("-R: the running process did not answer within {} s", kStartSeconds)};
        if (got < 0) return Error{fmt::format("-R: {}", std::strerror(errno))};
        for (cmsghdr* header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
            if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
            const size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; ++i) {
                int fd = -1;
                std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
                fds_.push_back(fd);
            }
        }
        if (message.msg_flags & MSG_CTRUNC) return Error{"-R: too many sockets at once from the running process"};
        if (got == 0) return Error{"-R: the running process closed the connection"};
        in_.append(buffer.data(), static_cast<size_t>(got));
    }
}

Result<int> TakeoverReceiver::takeFd() {
    if (fds_.empty()) return Error{"-R: a row came without its socket"};
    const int fd = fds_.front();
    fds_.pop_front();
    return fd;
}

bool TakeoverReceiver::parseRow(const std::string& body, std::string& task, std::string& state) {
    const auto* p = reinterpret_cast<const uint8_t*>(body.data());
    size_t pos = 2;
    if (body.size() < 2 || proto::readU16(p) != 2) return false;
    for (std::string* column : {&task, &state}) {
        if (body.size() < pos + 4) return false;
        const int32_t length = proto::readI32(p + pos);
        pos += 4;
        if (length < 0) {
            column->clear();
            continue;
        }
        if (body.size() - pos < static_cast<size_t>(length)) return false;
        column->assign(body, pos, static_cast<size_t>(length));
        pos += static_cast<size_t>(length);
    }
    return pos == body.size();
}

}  // namespace sluice::server
