#include "metrics/http_endpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "metrics/http_request.h"
#include "util/log.h"

namespace sluice::metrics {

std::string_view statusText(int status) {
    switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return "Unknown";
    }
}

// One client connection: read and parse one request, answer it, close. Owned by itself (a
// shared_ptr it holds while its handles are open), so a late answer finds it gone, not freed.
class HttpEndpoint::Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(uv_loop_t* loop, Handler& handler) : handler_(handler) {
        uv_tcp_init(loop, &tcp_);
        uv_timer_init(loop, &timer_);
        tcp_.data = this;
        timer_.data = this;
    }

    bool accept(uv_stream_t* server) {
        self_ = shared_from_this();
        if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&tcp_)) != 0) {
            close();
            return false;
        }
        uv_timer_start(&timer_, &Connection::onTimeout, kRequestTimeoutMillis, 0);
        uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &Connection::onAlloc, &Connection::onRead);
        return true;
    }

private:
    static void onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
        auto* self = static_cast<Connection*>(handle->data);
        buf->base = self->readBuffer_;
        buf->len = sizeof self->readBuffer_;
    }

    static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        auto* self = static_cast<Connection*>(stream->data);
        if (nread < 0) {
            self->close();
            return;
        }
        if (nread == 0 || self->answered_) return;  // after the answer: drained, so no RST eats it
        self->received_ += static_cast<size_t>(nread);
        if (self->received_ > kMaxRequestBytes) {
            self->send(HttpResponse{431, "text/plain; charset=utf-8", "request too large\n", {}});
            return;
        }
        if (self->request_.state() != HttpRequestParser::State::Incomplete) return;  // answer pending
        switch (self->request_.feed(buf->base, static_cast<size_t>(nread))) {
            case HttpRequestParser::State::Incomplete: break;
            case HttpRequestParser::State::Complete: self->requestComplete(); break;
            case HttpRequestParser::State::Malformed:
                self->send(HttpResponse{400, "text/plain; charset=utf-8", "malformed request\n", {}});
                break;
        }
    }

    static void onTimeout(uv_timer_t* timer) {
        auto* self = static_cast<Connection*>(timer->data);
        if (!self->answered_) self->send(HttpResponse{408, "text/plain; charset=utf-8", "request timeout\n", {}});
        else self->close();  // the linger after the answer is over
    }

    void requestComplete() {
        if (answered_) return;
        uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
        head_ = request_.method() == "HEAD";
        std::weak_ptr<Connection> weak = shared_from_this();
        handler_(request_.method(), request_.path(), [weak](HttpResponse response) {
            if (auto self = weak.lock()) self->send(std::move(response));
        });
    }

    void send(HttpResponse response) {
        if (answered_ || closing_) return;
        answered_ = true;
        uv_timer_stop(&timer_);
        out_ = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
                           response.status, statusText(response.status), response.contentType, response.body.size());
        for (const auto& [name, value] : response.headers) out_ += fmt::format("{}: {}\r\n", name, value);
        out_ += "\r\n";
        if (!head_) out_ += response.body;
        uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
        write_.data = this;
        if (uv_write(&write_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, &Connection::onWritten) != 0) close();
    }

    // The answer is out: half-close, then read and drop what the client still sends until it
    // closes too (bounded by kLingerMillis). Closing with unread input would reset the connection
    // and could destroy the answer before the client read it (an oversized request, say).
    static void onWritten(uv_write_t* req, int status) {
        auto* self = static_cast<Connection*>(req->data);
        if (status != 0 || self->closing_) {
            self->close();
            return;
        }
        self->shutdown_.data = self;
        if (uv_shutdown(&self->shutdown_, reinterpret_cast<uv_stream_t*>(&self->tcp_), &Connection::onShutdown) != 0)
            self->close();
    }

    static void onShutdown(uv_shutdown_t* req, int status) {
        auto* self = static_cast<Connection*>(req->data);
        if (status != 0 || self->closing_) {
            self->close();
            return;
        }
        uv_timer_start(&self->timer_, &Connection::onTimeout, kLingerMillis, 0);
        uv_read_start(reinterpret_cast<uv_stream_t*>(&self->tcp_), &Connection::onAlloc, &Connection::onRead);
    }

    static constexpr uint64_t kLingerMillis = 1000;

    void close() {
        if (closing_) return;
        closing_ = true;
        uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &Connection::onClosed);
        uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Connection::onClosed);
    }

    static void onClosed(uv_handle_t* handle) {
        auto* self = static_cast<Connection*>(handle->data);
        if (++self->closedHandles_ == 2) self->self_.reset();  // the last reference, usually
    }

    Handler& handler_;
    uv_tcp_t tcp_;
    uv_timer_t timer_;
    uv_write_t write_;
    uv_shutdown_t shutdown_;
    HttpRequestParser request_;
    std::string out_;
    char readBuffer_[2048];
    size_t received_ = 0;
    bool answered_ = false;
    bool head_ = false;
    bool closing_ = false;
    int closedHandles_ = 0;
    std::shared_ptr<Connection> self_;
};

HttpEndpoint::HttpEndpoint(uv_loop_t* loop, Handler handler) : loop_(loop), handler_(std::move(handler)) {}

HttpEndpoint::~HttpEndpoint() { close(); }

Result<std::unique_ptr<HttpEndpoint>> HttpEndpoint::open(uv_loop_t* loop, const std::string& address, int port,
                                                        Handler handler) {
    std::unique_ptr<HttpEndpoint> endpoint(new HttpEndpoint(loop, std::move(handler)));
    std::vector<std::string> hosts;
    if (address == "*") hosts = {"0.0.0.0", "::"};
    else hosts = {address};
    for (const auto& host : hosts) {
        sockaddr_storage ss{};
        if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&ss)) != 0 &&
            uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&ss)) != 0)
            return Error{fmt::format("http_listen_addr: '{}' is not an IP address", host)};
        auto* tcp = new uv_tcp_t;
        uv_tcp_init(loop, tcp);
        tcp->data = endpoint.get();
        endpoint->listeners_.push_back(tcp);
        const unsigned flags = ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
        int rc = uv_tcp_bind(tcp, reinterpret_cast<sockaddr*>(&ss), flags);
        if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), 64, &HttpEndpoint::onConnection);
        if (rc != 0) {
            // "*" on a machine without IPv6 still serves IPv4.
            if (address == "*" && host == "::" && endpoint->listeners_.size() > 1) {
                endpoint->listeners_.pop_back();
                uv_close(reinterpret_cast<uv_handle_t*>(tcp),
                         [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
                continue;
            }
            return Error{fmt::format("cannot listen for HTTP on {}:{}: {}", host, port, uv_strerror(rc))};
        }
    }
    endpoint->description_ = fmt::format("http://{}:{}", address, port);
    return endpoint;
}

std::vector<int> HttpEndpoint::detachListeners() {
    std::vector<int> fds;
    for (uv_tcp_t* tcp : listeners_) {
        int fd = -1;
        if (uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd) == 0)
            if (int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0); copy >= 0) fds.push_back(copy);
    }
    close();
    return fds;
}

Result<std::unique_ptr<HttpEndpoint>> HttpEndpoint::adopt(uv_loop_t* loop, const std::vector<int>& fds,
                                                         Handler handler) {
    std::unique_ptr<HttpEndpoint> endpoint(new HttpEndpoint(loop, std::move(handler)));
    for (int fd : fds) {
        const int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        auto* tcp = new uv_tcp_t;
        uv_tcp_init(loop, tcp);
        tcp->data = endpoint.get();
        endpoint->listeners_.push_back(tcp);
        int rc = own < 0 ? UV_EBADF : uv_tcp_open(tcp, own);
        if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), 64, &HttpEndpoint::onConnection);
        if (rc != 0) {
            if (own >= 0 && uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd) != 0) ::close(own);
            return Error{fmt::format("cannot listen for HTTP on a socket taken over: {}", uv_strerror(rc))};
        }
        sockaddr_storage address{};
        int length = sizeof address;
        if (endpoint->description_.empty() &&
            uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
            char host[64] = "?";
            const int port = address.ss_family == AF_INET6
                                 ? ntohs(reinterpret_cast<sockaddr_in6&>(address).sin6_port)
                                 : ntohs(reinterpret_cast<sockaddr_in&>(address).sin_port);
            uv_ip_name(reinterpret_cast<sockaddr*>(&address), host, sizeof host);
            endpoint->description_ = fmt::format("http://{}:{} (taken over)", host, port);
        }
    }
    return endpoint;
}

void HttpEndpoint::onConnection(uv_stream_t* server, int status) {
    auto* self = static_cast<HttpEndpoint*>(server->data);
    if (status != 0) return;
    auto connection = std::make_shared<Connection>(self->loop_, self->handler_);
    connection->accept(server);
}

void HttpEndpoint::close() {
    for (uv_tcp_t* tcp : listeners_)
        uv_close(reinterpret_cast<uv_handle_t*>(tcp), [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    listeners_.clear();
}

}  // namespace sluice::metrics
