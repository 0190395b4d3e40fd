#include "net/http_parse.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace awh;
using net::parse_response;

TEST_CASE("parse_response: a Content-Length response, fed whole or a byte at a time") {
  const std::string bytes =
      "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Two:  spaced \r\n"
      "Content-Length: 5\r\n\r\nhello";
  for (std::size_t piece : {0, 1, 3, 100}) {
    CAPTURE(piece);
    const auto r = parse_response(bytes, 1024, piece);
    REQUIRE(r.has_value());
    CHECK(r->status == 201);
    CHECK(r->body == "hello");
    CHECK(r->header("content-type") == "application/json");
    CHECK(r->header("X-Two") == "spaced");
    CHECK(r->headers.size() == 3);
  }
}

TEST_CASE("parse_response: a chunked body's last chunk split across reads") {
  // "0\r\n", then "\r", then "\n": Beast 1.81 asserted on this valid split when assertions are on
  // (src/util/boost_assert.cpp); found by fuzz_http.
  for (const std::string body : {"", "4\r\nWiki\r\n"}) {
    const std::string bytes =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body + "0\r\n\r\n";
    for (std::size_t piece = 1; piece <= 8; ++piece) {
      CAPTURE(body);
      CAPTURE(piece);
      const auto r = parse_response(bytes, 1024, piece);
      REQUIRE(r.has_value());
      CHECK(r->body == (body.empty() ? "" : "Wiki"));
    }
  }
}

TEST_CASE("parse_response: chunked, and a body that ends at the peer's close") {
  const auto chunked = parse_response(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n",
      1024, 2);
  REQUIRE(chunked.has_value());
  CHECK(chunked->body == "Wikipedia");
  const auto until_close =
      parse_response("HTTP/1.1 503 Unavailable\r\n\r\nbody until close", 1024, 7);
  REQUIRE(until_close.has_value());
  CHECK(until_close->status == 503);
  CHECK(until_close->body == "body until close");
}

TEST_CASE("parse_response: bytes after a complete response are ignored") {
  const auto r = parse_response("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", 1024);
  REQUIRE(r.has_value());
  CHECK(r->status == 204);
  CHECK(r->body.empty());
}

TEST_CASE("parse_response: errors are classified as exchange() classifies them") {
  const auto none = parse_response("", 1024);
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().cls == errc::network);
  CHECK(none.error().message == "reading the response failed: end of stream");

  const auto cut = parse_response("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", 1024, 3);
  REQUIRE_FALSE(cut.has_value());
  CHECK(cut.error().cls == errc::network);
  CHECK(cut.error().message == "reading the response failed: partial message");

  const auto garbage = parse_response("SSH-2.0-OpenSSH_9.2\r\n\r\n", 1024);
  REQUIRE_FALSE(garbage.has_value());
  CHECK(garbage.error().cls == errc::protocol);
  CHECK(garbage.error().message.starts_with("malformed HTTP response: "));

  // Beast takes any three digits (found by fuzz_http).
  for (const char* status : {"000", "002", "099", "600", "999"}) {
    CAPTURE(status);
    const auto odd =
        parse_response(std::string("HTTP/1.1 ") + status + " X\r\nContent-Length: 0\r\n\r\n", 1024);
    REQUIRE_FALSE(odd.has_value());
    CHECK(odd.error().cls == errc::protocol);
    CHECK(odd.error().message == std::string("malformed HTTP response: status ") +
                                     std::to_string(std::stoi(status)) + " is not 100..599");
  }

  const auto big = parse_response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 4);
  REQUIRE_FALSE(big.has_value());
  CHECK(big.error().cls == errc::protocol);
  CHECK(big.error().message == "response body exceeds 4 bytes");
}
