#include <doctest/doctest.h>

#include <string>

#include "net/url.hpp"

using namespace awh;

TEST_CASE("endpoint URLs") {
  auto a = net::parse_url("https://rolesanywhere.us-east-1.amazonaws.com");
  REQUIRE(a.has_value());
  CHECK(a->tls);
  CHECK(a->port == "443");
  CHECK(a->host_header() == "rolesanywhere.us-east-1.amazonaws.com");
  CHECK(a->base_path.empty());

  auto b = net::parse_url("http://127.0.0.1:8080/");
  REQUIRE(b.has_value());
  CHECK_FALSE(b->tls);
  CHECK(b->host_header() == "127.0.0.1:8080");

  auto c = net::parse_url("https://[::1]:9443/prefix");
  REQUIRE(c.has_value());
  CHECK(c->host == "::1");
  CHECK(c->host_header() == "[::1]:9443");
  CHECK(c->base_path == "/prefix");

  CHECK(net::parse_url("https://h:443")->host_header() == "h");
  // Plain http is for local testing only.
  CHECK(net::parse_url("http://localhost:8080").has_value());
  CHECK(net::parse_url("http://[::1]:8080").has_value());
  CHECK(net::parse_url("http://127.0.0.2").has_value());
  CHECK(net::parse_url("https://h/a-b/c_d.e~f")->base_path == "/a-b/c_d.e~f");
}

TEST_CASE("an IPv6 host without a port takes the scheme's default (found by fuzz_url)") {
  const auto a = net::parse_url("https://[::18]/a/b");
  REQUIRE(a.has_value());
  CHECK(a->host == "::18");
  CHECK(a->port == "443");
  CHECK(a->default_port);
  CHECK(a->base_path == "/a/b");
  CHECK(a->host_header() == "[::18]");
  const auto b = net::parse_url("http://[::1]");
  REQUIRE(b.has_value());
  CHECK(b->port == "80");
  CHECK_FALSE(net::parse_url("https://[::1]:").has_value());
  // Not loopback, whatever inet_pton would read up to the NUL.
  using namespace std::string_literals;
  CHECK_FALSE(net::parse_url("http://[::1\0.example.com]"s).has_value());
  CHECK_FALSE(net::parse_url("https://h:").has_value());
}

TEST_CASE("bad endpoint URLs are refused") {
  for (const char* bad : {"ftp://h",
                          "rolesanywhere.amazonaws.com",
                          "https://",
                          "https://u@h",
                          "https://h:0",
                          "https://h:99999",
                          "https://h:x",
                          "https://h?x=1",
                          "https://h#f",
                          "https://[::1",
                          "https://h h",
                          "https://1::2:443",
                          "https://[nothex]:1",
                          "http://example.com",
                          "http://10.0.0.1:80",
                          "https://h/a b",
                          "https://h/a/../b",
                          "https://h//x",
                          "https://h/%2e",
                          "https://h/a\r\nX: y"}) {
    CAPTURE(bad);
    CHECK_FALSE(net::parse_url(bad).has_value());
  }
}
