// A small HTTP/1.1 server on a libuv loop for /metrics, /health and /ready (beyond PgBouncer).
// Requests are parsed by http-parser (the parser Node.js paired with libuv), bounded in size and
// time, answered once and closed. Routing and content are the handler's.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace sluice::metrics {

struct HttpResponse {
    int status = 200;
    std::string contentType = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

class HttpEndpoint {
public:
    using Respond = std::function<void(HttpResponse)>;
    // Called for each complete request; `respond` may be called later (at most once).
    using Handler = std::function<void(std::string_view method, std::string_view path, Respond respond)>;

    // Listens on address ("*" = every IPv4 and IPv6 address) and port.
    static Result<std::unique_ptr<HttpEndpoint>> open(uv_loop_t* loop, const std::string& address, int port,
                                                      Handler handler);
    ~HttpEndpoint();
    void close();
    // The online restart (-R): duplicates of the listening sockets for the new process, which
    // listens on them with adopt(); this endpoint then accepts no more.
    std::vector<int> detachListeners();
    static Result<std::unique_ptr<HttpEndpoint>> adopt(uv_loop_t* loop, const std::vector<int>& fds, Handler handler);
    std::string description() const { return description_; }

    // Limits: a request larger than this is answered 431; one slower than this is dropped.
    static constexpr size_t kMaxRequestBytes = 8192;
    static constexpr uint64_t kRequestTimeoutMillis = 5000;

private:
    class Connection;
    HttpEndpoint(uv_loop_t* loop, Handler handler);
    static void onConnection(uv_stream_t* server, int status);

    uv_loop_t* loop_;
    Handler handler_;
    std::vector<uv_tcp_t*> listeners_;
    std::string description_;
};

// The reason phrase of a status code ("Not Found").
std::string_view statusText(int status);

}  // namespace sluice::metrics
