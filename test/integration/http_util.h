// A bounded HTTP client for the tests of Sluice's endpoint (/metrics, /health, /ready).
#pragma once

#include <chrono>
#include <string>

namespace sluice::itest {

struct HttpReply {
    int status = 0;  // 0: no answer
    std::string head;
    std::string body;
};

// Sends `request` as is and reads until the server closes (it always does), within `patience`.
HttpReply httpRaw(int port, const std::string& request, std::chrono::seconds patience = std::chrono::seconds(5));
// `method path` with HTTP/1.1.
HttpReply httpGet(int port, const std::string& path, const std::string& method = "GET");

}  // namespace sluice::itest
