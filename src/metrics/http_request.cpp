#include "metrics/http_request.h"

namespace sluice::metrics {

HttpRequestParser::HttpRequestParser() {
    http_parser_init(&parser_, HTTP_REQUEST);
    parser_.data = this;
    http_parser_settings_init(&settings_);
    settings_.on_url = [](http_parser* p, const char* at, size_t length) {
        static_cast<HttpRequestParser*>(p->data)->url_.append(at, length);
        return 0;
    };
    settings_.on_message_complete = [](http_parser* p) {
        static_cast<HttpRequestParser*>(p->data)->complete();
        http_parser_pause(p, 1);  // one request per connection: what follows is not parsed
        return 0;
    };
}

HttpRequestParser::State HttpRequestParser::feed(const char* data, size_t size) {
    if (state_ != State::Incomplete || size == 0) return state_;
    const size_t parsed = http_parser_execute(&parser_, &settings_, data, size);
    if (state_ == State::Complete) return state_;
    if (HTTP_PARSER_ERRNO(&parser_) != HPE_OK || parsed != size) state_ = State::Malformed;
    return state_;
}

void HttpRequestParser::complete() {
    state_ = State::Complete;
    http_parser_url parts;
    http_parser_url_init(&parts);
    path_ = url_;
    if (http_parser_parse_url(url_.data(), url_.size(), 0, &parts) == 0 && (parts.field_set & (1 << UF_PATH)))
        path_ = url_.substr(parts.field_data[UF_PATH].off, parts.field_data[UF_PATH].len);
    method_ = http_method_str(static_cast<http_method>(parser_.method));
}

}  // namespace sluice::metrics
