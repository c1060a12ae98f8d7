// A listening socket (TCP address or unix socket directory) that hands each new connection
// to a callback on its loop.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace sluice::net {

class Listener {
public:
    using OnConnection = std::function<void(uv_stream_t* listener, bool isUnix)>;

    struct TcpOptions {
        std::string address;  // IP literal or host name
        int port = 0;
        int backlog = 128;
        bool reusePort = false;  // SO_REUSEPORT, so several workers can each have their own socket
    };
    struct UnixOptions {
        std::string directory;
        int port = 0;
        int backlog = 128;
        int mode = 0777;
        std::string group;
    };

    // One listener per resolved address of `options.address` ("*" means every IPv4 and IPv6 address).
    static Result<std::vector<std::unique_ptr<Listener>>> openTcp(uv_loop_t* loop, const TcpOptions& options,
                                                                   OnConnection onConnection);
    static Result<std::unique_ptr<Listener>> openUnix(uv_loop_t* loop, const UnixOptions& options,
                                                      OnConnection onConnection);
    // A stream socket someone else bound (systemd socket activation): this listener accepts on a
    // duplicate of `fd`, so several workers can share it. Its socket file, if any, is the
    // opener's: closing leaves it.
    // `origin` says where it came from in the description ("passed by systemd").
    static Result<std::unique_ptr<Listener>> adopt(uv_loop_t* loop, int fd, int backlog, OnConnection onConnection,
                                                   std::string_view origin);

    ~Listener();
    struct Handle;  // the libuv handle; closed asynchronously, so it may outlive the Listener
    void close();
    // The online restart: a duplicate of the listening socket for the new process (-1 on
    // error); this listener then stops accepting, leaving queued connections and the socket
    // file to the new owner.
    int detach();
    const std::string& description() const { return description_; }
    bool isUnix() const { return isUnix_; }

private:
    Listener(uv_loop_t* loop, bool isUnix, OnConnection onConnection);
    static void onConnection(uv_stream_t* server, int status);

    bool isUnix_;
    OnConnection onConnection_;
    std::string description_;
    std::string unixPath_;
    bool closed_ = false;
    Handle* handle_;
};

}  // namespace sluice::net
