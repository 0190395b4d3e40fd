// Proxy settings (net/proxy.hpp). Input: a proxy URL, an endpoint URL, a NO_PROXY value.
// Properties:
//  - a proxy URL that parses, written back with its user-info percent-encoded, parses to the
//    same proxy; its display() never shows the password;
//  - the CONNECT request for any endpoint that parses is one request line and headers ending in
//    one empty line: nothing from the URLs can add a line (no header injection);
//  - NO_PROXY: "*" bypasses every host, and a host listed by name bypasses the proxy.

#include <string>

#include "fuzz.hpp"
#include "net/proxy.hpp"
#include "net/url.hpp"

namespace {

std::string encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const auto f = awh::fuzz::fields(data, size, 3);
  const auto proxy = awh::net::parse_proxy_url(f[0], "HTTPS_PROXY");
  if (proxy) {
    FUZZ_CHECK(!proxy->host.empty() && !proxy->port.empty());
    const std::string& password = proxy->password.str();
    const std::string shown = proxy->display();
    if (!password.empty()) FUZZ_CHECK(shown.find(":***@") != std::string::npos);
    if (!password.empty()) {
      // Before the '@': "http://", the escaped user and ":***"; after it: host and port.
      const auto at = shown.rfind('@');
      FUZZ_CHECK(shown.compare(at - 4, 4, ":***") == 0);
      const std::string host =
          proxy->host.find(':') != std::string::npos ? "[" + proxy->host + "]" : proxy->host;
      FUZZ_CHECK(shown.substr(at + 1) == host + ":" + proxy->port);
    }
    std::string text = "http://";
    if (!proxy->user.empty()) {
      text += encode(proxy->user);
      if (!password.empty()) text += ":" + encode(password);
      text += "@";
    }
    text += proxy->host.find(':') != std::string::npos ? "[" + proxy->host + "]" : proxy->host;
    text += ":" + proxy->port;
    const auto again = awh::net::parse_proxy_url(text, "HTTPS_PROXY");
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->host == proxy->host && again->port == proxy->port &&
               again->user == proxy->user && again->password.str() == password);

    if (const auto url = awh::net::parse_url(f[1])) {
      const std::string req = awh::net::connect_request(*proxy, url->host, url->port);
      FUZZ_CHECK(req.starts_with("CONNECT "));
      const auto end = req.find("\r\n\r\n");
      FUZZ_CHECK(end != std::string::npos && end + 4 == req.size());
      // Every CR is followed by LF and every LF preceded by CR: lines only where we put them.
      for (std::size_t i = 0; i < req.size(); ++i) {
        if (req[i] == '\r') FUZZ_CHECK(i + 1 < req.size() && req[i + 1] == '\n');
        if (req[i] == '\n') FUZZ_CHECK(i > 0 && req[i - 1] == '\r');
        FUZZ_CHECK(req[i] != '\0');
      }
      const auto first_line = req.substr(0, req.find("\r\n"));
      FUZZ_CHECK(first_line.ends_with(" HTTP/1.1"));
    }
  }

  const auto no_proxy = awh::net::parse_no_proxy(f[2]);
  if (const auto url = awh::net::parse_url(f[1])) {
    auto all = no_proxy;
    awh::net::NoProxyEntry star;
    star.all = true;
    all.push_back(star);
    FUZZ_CHECK(awh::net::bypasses_proxy(all, url->host, url->port));
    // A host name that begins and ends with a letter or digit (parse_url also takes names
    // such as "." that NO_PROXY can't list).
    const auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
    if (!url->host.empty() && alnum(url->host.front()) && alnum(url->host.back()) &&
        url->host.find(':') == std::string::npos) {
      FUZZ_CHECK(
          awh::net::bypasses_proxy(awh::net::parse_no_proxy(url->host), url->host, url->port));
    }
  }
  return 0;
}
