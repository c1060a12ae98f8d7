// The metrics endpoint's request parser, without sockets (also fuzzed: test/fuzz/http_request.cpp).
#include <gtest/gtest.h>

#include <string>

#include "metrics/http_request.h"

namespace {

using sluice::metrics::HttpRequestParser;

TEST(HttpRequestParser, ACompleteRequestGivesItsMethodAndPath) {
    HttpRequestParser parser;
    const std::string request = "GET /metrics?x=1 HTTP/1.1\r\nHost: h\r\n\r\n";
    EXPECT_EQ(parser.feed(request.data(), request.size()), HttpRequestParser::State::Complete);
    EXPECT_EQ(parser.method(), "GET");
    EXPECT_EQ(parser.path(), "/metrics");
}

TEST(HttpRequestParser, ARequestCutInPiecesIsTheSame) {
    HttpRequestParser parser;
    const std::string request = "HEAD http://host:1/health HTTP/1.0\r\n\r\n";
    for (size_t i = 0; i + 1 < request.size(); ++i)
        EXPECT_EQ(parser.feed(request.data() + i, 1), HttpRequestParser::State::Incomplete);
    EXPECT_EQ(parser.feed(request.data() + request.size() - 1, 1), HttpRequestParser::State::Complete);
    EXPECT_EQ(parser.method(), "HEAD");
    EXPECT_EQ(parser.path(), "/health");
}

TEST(HttpRequestParser, OnlyTheFirstOfPipelinedRequestsIsRead) {
    HttpRequestParser parser;
    const std::string requests = "GET /ready HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n";
    EXPECT_EQ(parser.feed(requests.data(), requests.size()), HttpRequestParser::State::Complete);
    EXPECT_EQ(parser.path(), "/ready");
    EXPECT_EQ(parser.feed("GET /x HTTP/1.1\r\n\r\n", 19), HttpRequestParser::State::Complete);
    EXPECT_EQ(parser.path(), "/ready");
}

TEST(HttpRequestParser, GarbageIsMalformedForGood) {
    HttpRequestParser parser;
    EXPECT_EQ(parser.feed("\x16\x03\x01\x02", 4), HttpRequestParser::State::Malformed);
    EXPECT_EQ(parser.feed("GET / HTTP/1.1\r\n\r\n", 18), HttpRequestParser::State::Malformed);
}

}  // namespace
