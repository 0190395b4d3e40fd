#include "net/http_parse.hpp"

#include <fmt/format.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <string>

namespace awh::net {

namespace http = boost::beast::http;

Error response_read_error(const boost::system::error_code& ec, std::size_t max_body_bytes) {
  if (ec == http::error::body_limit) {
    return make_error(errc::protocol,
                      fmt::format("response body exceeds {} bytes", max_body_bytes));
  }
  // Beast's parse errors (bad status line, bad chunk, ...) mean the peer is not speaking HTTP as
  // we need it; a connection that ends early (end_of_stream: before any byte, partial_message:
  // mid-headers or mid-body) is a network failure, worth a retry.
  const bool parse_error =
      ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message;
  if (parse_error) {
    return make_error(errc::protocol, fmt::format("malformed HTTP response: {}", ec.message()));
  }
  if (ec == boost::beast::error::timeout || ec == boost::asio::error::timed_out) {
    return make_error(errc::timeout, "reading the response timed out");
  }
  Error e = make_error(errc::network, fmt::format("reading the response failed: {}", ec.message()));
  if (ec.category() == boost::system::system_category()) e.sys_errno = ec.value();
  return e;
}

Result<HttpResponse> take_response(ResponseParser& parser) {
  auto& res = parser.get();
  if (res.result_int() < 100 || res.result_int() > 599) {
    return make_error(
        errc::protocol,
        fmt::format("malformed HTTP response: status {} is not 100..599", res.result_int()));
  }
  HttpResponse out;
  out.status = res.result_int();
  for (const auto& field : res) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = std::move(res.body());
  return out;
}

Result<HttpResponse> parse_response(std::string_view bytes, std::size_t max_body_bytes,
                                    std::size_t piece) {
  ResponseParser parser;
  parser.body_limit(max_body_bytes);
  parser.eager(true);  // as http::read: the body too, not only the header
  // What http::read does (beast/http/impl/read.hpp, read_some_op): give the parser what is
  // buffered; need_more asks for another read; the end of input is the peer's close: put_eof if
  // the parser got some bytes (a body delimited by the close ends there, anything else is a
  // partial message), else end_of_stream.
  std::string buffer;
  std::size_t offset = 0;
  boost::system::error_code ec;
  for (;;) {
    if (!buffer.empty()) {
      const std::size_t used = parser.put(boost::asio::buffer(buffer), ec);
      buffer.erase(0, used);
      if (ec == http::error::need_more) {
        ec = {};
      } else if (ec) {
        return response_read_error(ec, max_body_bytes);
      } else if (parser.is_done()) {
        break;
      } else if (used > 0) {
        continue;
      }
    }
    if (offset == bytes.size()) {
      if (!parser.got_some())
        return response_read_error(http::error::end_of_stream, max_body_bytes);
      parser.put_eof(ec);
      if (ec) return response_read_error(ec, max_body_bytes);
      break;
    }
    const std::size_t n =
        piece == 0 ? bytes.size() - offset : std::min(piece, bytes.size() - offset);
    buffer.append(bytes.substr(offset, n));
    offset += n;
  }
  return take_response(parser);
}

}  // namespace awh::net
