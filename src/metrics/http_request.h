// The request side of the metrics endpoint (http_endpoint.*): bytes in, one parsed request
// out — its method and path — or a verdict that it is malformed. Kept apart from the libuv
// connection so it can be fuzzed (test/fuzz/http_request.cpp) without sockets.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <string>

namespace sluice::metrics {

class HttpRequestParser {
public:
    enum class State { Incomplete, Complete, Malformed };

    HttpRequestParser();
    HttpRequestParser(const HttpRequestParser&) = delete;
    HttpRequestParser& operator=(const HttpRequestParser&) = delete;

    // Feeds the next bytes received; returns the state after them. Parsing stops at the end of
    // the first request (anything after it is ignored: the endpoint answers one request and
    // closes) or at the first error; bytes fed after that change nothing.
    State feed(const char* data, size_t size);
    State state() const { return state_; }

    // Once Complete: the method ("GET") and the path of the URL (the whole URL when http-parser
    // finds no path in it, e.g. "*").
    const std::string& method() const { return method_; }
    const std::string& path() const { return path_; }

private:
    void complete();

    http_parser parser_;
    http_parser_settings settings_;
    std::string url_;
    std::string method_;
    std::string path_;
    State state_ = State::Incomplete;
};

}  // namespace sluice::metrics
