// A host name looked up in libuv's thread pool, so that an event loop never blocks on DNS:
// server connections, the host prober and cancels forwarded to peers use it. Whoever started a
// lookup may go away first: destroying (or cancel()ing) the HostLookup detaches the request,
// which then frees itself when libuv is done with it, and `done` is never called.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <functional>
#include <string>

namespace sluice::net {

// `host` as an IPv4 or IPv6 literal with `port`; false when it is a name to look up.
bool parseIpAddress(const std::string& host, int port, sockaddr_storage& address);

class HostLookup {
public:
    // The first address found; on failure a libuv error status and no address.
    using Done = std::function<void(int status, const sockaddr* address)>;

    HostLookup() = default;
    ~HostLookup() { cancel(); }
    HostLookup(const HostLookup&) = delete;
    HostLookup& operator=(const HostLookup&) = delete;

    // 0 once started (`done` comes later, on the loop's thread), or the libuv error that kept it
    // from starting (`done` is then never called).
    int start(uv_loop_t* loop, const std::string& host, int port, Done done);
    void cancel();
    bool pending() const { return request_ != nullptr; }

private:
    struct Request;
    static void onResolved(uv_getaddrinfo_t* req, int status, addrinfo* result);
    Request* request_ = nullptr;
};

}  // namespace sluice::net
