// Proxy URLs, NO_PROXY and the CONNECT request bytes (net/proxy.hpp). The tunnel itself is tested
// against a real proxy in test/integration/proxy_test.cpp and a scripted one in test/net.
#include <doctest/doctest.h>

#include <string>

#include "net/proxy.hpp"

using namespace awh;

namespace {

net::Url url(std::string_view text) {
  auto u = net::parse_url(text);
  REQUIRE(u.has_value());
  return *u;
}

bool bypass(std::string_view no_proxy, std::string_view host, std::string_view port = "443") {
  return net::bypasses_proxy(net::parse_no_proxy(no_proxy), host, port);
}

}  // namespace

TEST_CASE("proxy URLs: scheme, user-info, host, port") {
  auto p = net::parse_proxy_url("http://proxy.corp:3128", "HTTPS_PROXY");
  REQUIRE(p.has_value());
  CHECK(p->host == "proxy.corp");
  CHECK(p->port == "3128");
  CHECK(p->user.empty());
  CHECK(p->display() == "http://proxy.corp:3128");

  auto bare = net::parse_proxy_url("proxy.corp", "HTTPS_PROXY");  // no scheme: http, port 80
  REQUIRE(bare.has_value());
  CHECK(bare->port == "80");
  CHECK(net::parse_proxy_url("http://proxy.corp:3128/", "x").has_value());

  auto auth = net::parse_proxy_url("http://al%40ice:p%3Ass@[::1]:8080", "--proxy");
  REQUIRE(auth.has_value());
  CHECK(auth->host == "::1");
  CHECK(auth->user == "al@ice");
  CHECK(auth->password.str() == "p:ss");
  CHECK(auth->display() == "http://al@ice:***@[::1]:8080");
  CHECK(auth->source == "--proxy");
}

TEST_CASE("bad proxy URLs name the setting and never echo the password") {
  const char* cases[] = {
      "https://u:hunter2@proxy:443",  // TLS to the proxy: not supported
      "socks5://u:hunter2@proxy:1080",    "http://u:hunter2@proxy:99999",
      "http://u:hunter2@proxy:3128/path", "http://u:hunter2%zz@proxy:3128",
      "http://u:hunter2@:3128",           "http://u:hunter2@[::1:3128",
      "http://:hunter2@proxy:3128",       "http://u:hunter2@pro xy:3128",
  };
  for (const char* text : cases) {
    CAPTURE(text);
    auto p = net::parse_proxy_url(text, "HTTPS_PROXY");
    REQUIRE_FALSE(p.has_value());
    CHECK(p.error().cls == errc::usage);
    CHECK(p.error().message.rfind("HTTPS_PROXY: not a usable proxy URL: ", 0) == 0);
    CHECK(p.error().message.find("hunter2") == std::string::npos);
  }
}

TEST_CASE("NO_PROXY: suffixes, '*', IP literals, CIDR ranges, ports") {
  CHECK(bypass("example.com", "example.com"));
  CHECK(bypass("example.com", "sts.example.com"));
  CHECK(bypass(".example.com", "sts.example.com"));
  CHECK(bypass("*.example.com", "a.b.example.com"));
  CHECK(bypass("EXAMPLE.com", "Sts.Example.COM."));
  CHECK_FALSE(bypass("example.com", "badexample.com"));
  CHECK_FALSE(bypass("sts.example.com", "example.com"));
  CHECK(bypass("*", "anything.at.all"));
  CHECK(bypass("a.test, ,b.test\tc.test", "c.test"));
  CHECK(bypass("10.0.0.1", "10.0.0.1"));
  CHECK_FALSE(bypass("10.0.0.1", "10.0.0.12"));
  CHECK(bypass("10.0.0.0/8", "10.200.3.4"));
  CHECK_FALSE(bypass("10.0.0.0/8", "11.0.0.1"));
  CHECK_FALSE(bypass("10.0.0.0/8", "ten.example"));  // CIDR matches IP-literal hosts only
  CHECK(bypass("::1", "::1"));
  CHECK(bypass("[::1]", "0:0::1"));
  CHECK(bypass("fd00::/8", "fd12:3456::1"));
  CHECK_FALSE(bypass("fd00::/8", "fe80::1"));
  CHECK(bypass("127.0.0.0/8", "127.9.9.9"));
  CHECK(bypass("localhost:8443", "localhost", "8443"));
  CHECK_FALSE(bypass("localhost:8443", "localhost", "443"));
  CHECK(bypass("[::1]:8443", "::1", "8443"));
  CHECK_FALSE(bypass("", "example.com"));
  CHECK_FALSE(bypass("10.0.0.0/99, /8, :", "10.0.0.1"));  // unusable entries are skipped
}

TEST_CASE("only https:// endpoints go through the proxy, unless NO_PROXY exempts them") {
  net::ProxySettings s;
  CHECK(net::proxy_for(s, url("https://sts.us-east-1.amazonaws.com")) == nullptr);
  s.https = *net::parse_proxy_url("http://proxy:3128", "HTTPS_PROXY");
  CHECK(net::proxy_for(s, url("https://sts.us-east-1.amazonaws.com")) == &*s.https);
  CHECK(net::proxy_for(s, url("http://127.0.0.1:8080")) == nullptr);
  s.no_proxy = net::parse_no_proxy("amazonaws.com");
  CHECK(net::proxy_for(s, url("https://sts.us-east-1.amazonaws.com")) == nullptr);
  CHECK(net::proxy_for(s, url("https://rolesanywhere.cn-north-1.amazonaws.com.cn")) == &*s.https);
}

TEST_CASE("the CONNECT request, with and without Basic authentication") {
  auto plain = *net::parse_proxy_url("http://proxy:3128", "x");
  CHECK(net::connect_request(plain, "rolesanywhere.us-east-1.amazonaws.com", "443") ==
        "CONNECT rolesanywhere.us-east-1.amazonaws.com:443 HTTP/1.1\r\n"
        "Host: rolesanywhere.us-east-1.amazonaws.com:443\r\n\r\n");
  CHECK(net::connect_request(plain, "::1", "8443") ==
        "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n");
  // RFC 7617 §2's example: Aladdin / open sesame.
  auto auth = *net::parse_proxy_url("http://Aladdin:open%20sesame@proxy:3128", "x");
  CHECK(net::connect_request(auth, "h", "443") ==
        "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n"
        "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
}
