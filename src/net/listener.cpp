#include "net/listener.h"

#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

namespace sluice::net {

struct Listener::Handle {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    Listener* owner = nullptr;
};

namespace {
void freeHandle(uv_handle_t* handle) { std::unique_ptr<Listener::Handle> owned(static_cast<Listener::Handle*>(handle->data)); }
}  // namespace

Listener::Listener(uv_loop_t*, bool isUnix, OnConnection onConnection)
    : isUnix_(isUnix), onConnection_(std::move(onConnection)), handle_(nullptr) {}

Listener::~Listener() { close(); }

void Listener::close() {
    if (closed_ || !handle_) return;
    closed_ = true;
    handle_->owner = nullptr;
    uv_close(&handle_->h.handle, freeHandle);
    handle_ = nullptr;
    if (!unixPath_.empty()) ::unlink(unixPath_.c_str());
}

int Listener::detach() {
    if (closed_ || !handle_) return -1;
    int fd = -1;
    if (uv_fileno(&handle_->h.handle, &fd) != 0) return -1;
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    unixPath_.clear();  // the file now names the new owner's socket
    close();
    return copy;
}

void Listener::onConnection(uv_stream_t* server, int status) {
    auto* handle = static_cast<Handle*>(server->data);
    if (status != 0 || !handle->owner) return;
    handle->owner->onConnection_(server, handle->owner->isUnix_);
}

Result<std::vector<std::unique_ptr<Listener>>> Listener::openTcp(uv_loop_t* loop, const TcpOptions& options,
                                                                  OnConnection onConnection) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const bool any = options.address == "*";
    std::string port = std::to_string(options.port);
    int rc = getaddrinfo(any ? nullptr : options.address.c_str(), port.c_str(), &hints, &found);
    if (rc != 0)
        return Error{fmt::format("cannot resolve listen_addr {}: {}", options.address, gai_strerror(rc))};
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);

    std::vector<std::unique_ptr<Listener>> listeners;
    for (addrinfo* ai = found; ai; ai = ai->ai_next) {
        int fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;  // e.g. no IPv6 on this host
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (options.reusePort) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        // "*" binds IPv4 and IPv6 separately; keep the v6 socket from claiming v4 too.
        if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        char host[NI_MAXHOST] = "?";
        getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, nullptr, 0, NI_NUMERICHOST);
        std::string where = ai->ai_family == AF_INET6 ? fmt::format("[{}]:{}", host, options.port)
                                                      : fmt::format("{}:{}", host, options.port);
        if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, options.backlog) != 0) {
            std::string reason = std::strerror(errno);
            ::close(fd);
            return Error{fmt::format("cannot listen on {}: {}", where, reason)};
        }
        std::unique_ptr<Listener> listener(new Listener(loop, false, onConnection));
        auto handle = std::make_unique<Handle>();
        uv_tcp_init(loop, &handle->h.tcp);
        handle->h.handle.data = handle.get();
        handle->owner = listener.get();
        uv_tcp_open(&handle->h.tcp, fd);
        if (int err = uv_listen(&handle->h.stream, options.backlog, &Listener::onConnection); err != 0) {
            uv_close(&handle.release()->h.handle, freeHandle);
            return Error{fmt::format("cannot listen on {}: {}", where, uv_strerror(err))};
        }
        listener->handle_ = handle.release();
        listener->description_ = where;
        listeners.push_back(std::move(listener));
    }
    if (listeners.empty()) return Error{fmt::format("no usable address for listen_addr {}", options.address)};
    return listeners;
}

Result<std::unique_ptr<Listener>> Listener::openUnix(uv_loop_t* loop, const UnixOptions& options,
                                                     OnConnection onConnection) {
    std::string path = fmt::format("{}/.s.PGSQL.{}", options.directory, options.port);
    // A socket file left by a crashed run would make bind fail; one that still answers belongs to
    // a live pooler and must not be taken over.
    if (int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0); probe >= 0) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
        bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        ::close(probe);
        if (live) return Error{fmt::format("unix socket {} is in use by another process", path)};
        ::unlink(path.c_str());
    }
    std::unique_ptr<Listener> listener(new Listener(loop, true, std::move(onConnection)));
    auto handle = std::make_unique<Handle>();
    uv_pipe_init(loop, &handle->h.pipe, 0);
    handle->h.handle.data = handle.get();
    handle->owner = listener.get();
    // Bound here, not with uv_pipe_bind: libuv unlinks a path it bound when the handle closes,
    // and a listener detached for the new process (-R) must leave the file to it.
    int rc = 0;
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (fd < 0) rc = uv_translate_sys_error(errno);
    else if (path.size() >= sizeof addr.sun_path) rc = UV_ENAMETOOLONG;
    if (rc == 0) {
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) rc = uv_translate_sys_error(errno);
    }
    if (rc == 0 && (rc = uv_pipe_open(&handle->h.pipe, fd)) != 0) ::close(fd);
    else if (rc != 0 && fd >= 0) ::close(fd);
    if (rc == 0) rc = uv_listen(&handle->h.stream, options.backlog, &Listener::onConnection);
    if (rc != 0) {
        uv_close(&handle.release()->h.handle, freeHandle);
        return Error{fmt::format("cannot listen on unix socket {}: {}", path, uv_strerror(rc))};
    }
    ::chmod(path.c_str(), static_cast<mode_t>(options.mode));
    if (!options.group.empty()) {
        group* g = getgrnam(options.group.c_str());
        if (!g || ::chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
            uv_close(&handle.release()->h.handle, freeHandle);
            ::unlink(path.c_str());
            return Error{fmt::format("cannot set group of {} to {}", path, options.group)};
        }
    }
    listener->handle_ = handle.release();
    listener->unixPath_ = path;
    listener->description_ = path;
    return listener;
}

Result<std::unique_ptr<Listener>> Listener::adopt(uv_loop_t* loop, int fd, int backlog, OnConnection onConnection,
                                                   std::string_view origin) {
    int type = 0;
    socklen_t typeLength = sizeof type;
    sockaddr_storage address{};
    socklen_t addressLength = sizeof address;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &typeLength) != 0 || type != SOCK_STREAM ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &addressLength) != 0)
        return Error{fmt::format("passed file descriptor {} is not a stream socket", fd)};
    const bool isUnix = address.ss_family == AF_UNIX;
    std::string where;
    if (isUnix) {
        where = reinterpret_cast<const sockaddr_un&>(address).sun_path;
    } else {
        char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
        getnameinfo(reinterpret_cast<sockaddr*>(&address), addressLength, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV);
        where = address.ss_family == AF_INET6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
    }
    int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0) return Error{fmt::format("cannot use passed socket {}: {}", where, std::strerror(errno))};
    std::unique_ptr<Listener> listener(new Listener(loop, isUnix, std::move(onConnection)));
    auto handle = std::make_unique<Handle>();
    if (isUnix) uv_pipe_init(loop, &handle->h.pipe, 0);
    else uv_tcp_init(loop, &handle->h.tcp);
    handle->h.handle.data = handle.get();
    handle->owner = listener.get();
    int rc = isUnix ? uv_pipe_open(&handle->h.pipe, own) : uv_tcp_open(&handle->h.tcp, own);
    if (rc == 0) rc = uv_listen(&handle->h.stream, backlog, &Listener::onConnection);
    if (rc != 0) {
        if (uv_fileno(&handle->h.handle, &own) != 0) ::close(own);  // not yet the handle's to close
        uv_close(&handle.release()->h.handle, freeHandle);
        return Error{fmt::format("cannot listen on passed socket {}: {}", where, uv_strerror(rc))};
    }
    listener->handle_ = handle.release();
    listener->description_ = fmt::format("{} ({})", where, origin);
    return listener;
}

}  // namespace sluice::net
