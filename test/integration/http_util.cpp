#include "http_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "pq_util.h"

namespace sluice::itest {

HttpReply httpRaw(int port, const std::string& request, std::chrono::seconds patience) {
    HttpReply reply;
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return reply;
    }
    (void)!::write(fd, request.data(), request.size());
    std::string all;
    const auto deadline = std::chrono::steady_clock::now() + patience;
    for (;;) {
        if (!waitFd(fd, POLLIN, deadline)) break;
        char buf[4096];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        all.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    const size_t split = all.find("\r\n\r\n");
    reply.head = all.substr(0, split);
    if (split != std::string::npos) reply.body = all.substr(split + 4);
    if (all.rfind("HTTP/1.1 ", 0) == 0) reply.status = std::atoi(all.c_str() + 9);
    return reply;
}

HttpReply httpGet(int port, const std::string& path, const std::string& method) {
    return httpRaw(port, method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

}  // namespace sluice::itest
