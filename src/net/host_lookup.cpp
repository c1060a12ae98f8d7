#include "net/host_lookup.h"

#include <netdb.h>

namespace sluice::net {

bool parseIpAddress(const std::string& host, int port, sockaddr_storage& address) {
    return uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&address)) == 0 ||
           uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&address)) == 0;
}

struct HostLookup::Request {
    uv_getaddrinfo_t req{};  // first: libuv hands back a pointer to it
    HostLookup* owner = nullptr;
    Done done;
};

int HostLookup::start(uv_loop_t* loop, const std::string& host, int port, Done done) {
    cancel();
    auto* request = new Request{};
    request->owner = this;
    request->done = std::move(done);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    const std::string service = std::to_string(port);
    const int rc = uv_getaddrinfo(loop, &request->req, &HostLookup::onResolved, host.c_str(), service.c_str(), &hints);
    if (rc != 0) {
        delete request;
        return rc;
    }
    request_ = request;
    return 0;
}

void HostLookup::cancel() {
    if (request_ == nullptr) return;
    request_->owner = nullptr;  // libuv always calls back, cancelled or not: the request frees itself there
    uv_cancel(reinterpret_cast<uv_req_t*>(&request_->req));
    request_ = nullptr;
}

void HostLookup::onResolved(uv_getaddrinfo_t* req, int status, addrinfo* result) {
    auto* request = reinterpret_cast<Request*>(req);
    HostLookup* owner = request->owner;
    Done done = std::move(request->done);
    delete request;
    if (owner != nullptr) {
        owner->request_ = nullptr;  // before `done`, which may destroy the owner
        if (status == 0 && result == nullptr) status = UV_EAI_NODATA;
        done(status, status == 0 ? result->ai_addr : nullptr);
    }
    uv_freeaddrinfo(result);
}

}  // namespace sluice::net
