#pragma once
// Reading an HTTP/1.1 response from the bytes a peer sent: Beast's response parser
// (boost/beast/http/parser.hpp) with our body limit, and how its errors are classified. The
// exchange (net/steps.hpp) feeds it from the socket; parse_response() feeds it from memory, so
// that the reader can be tested and fuzzed without a socket. Pure, no I/O.

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <string_view>

#include "net/http.hpp"
#include "util/error.hpp"

namespace awh::net {

using ResponseParser = boost::beast::http::response_parser<boost::beast::http::string_body>;

// The error for a read that ended with `ec` (not success): errc::protocol "response body exceeds
// <max_body_bytes> bytes" or "malformed HTTP response: <reason>" for Beast's parse errors;
// errc::network "reading the response failed: end of stream" / "...: partial message" for a
// peer that closed early (worth a retry); other codes: errc::network or errc::timeout as
// steps.hpp states.
Error response_read_error(const boost::system::error_code& ec, std::size_t max_body_bytes);

// The complete response the parser holds, moved out (headers in the order received). Beast
// takes any three digits as a status; one outside 100..599 (RFC 9110 §15) is errc::protocol
// "malformed HTTP response: status N is not 100..599".
Result<HttpResponse> take_response(ResponseParser& parser);

// Parses `bytes`, everything the peer sent before closing the connection, as exchange() does:
// the parser gets at most `piece` bytes at a time (0: all at once), as reads would deliver them,
// and end of input is the peer's close (so a body delimited by the close is accepted, and a
// response cut short is "partial message"). Bytes after the response are ignored.
Result<HttpResponse> parse_response(std::string_view bytes, std::size_t max_body_bytes,
                                    std::size_t piece = 0);

}  // namespace awh::net
