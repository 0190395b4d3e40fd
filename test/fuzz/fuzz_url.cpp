// Endpoint URLs (net/url.hpp): a URL that parses re-serialises to text that parses to the same
// fields, and its Host header names the host.

#include <string>

#include "fuzz.hpp"
#include "net/url.hpp"

namespace {

std::string serialise(const awh::net::Url& u) {
  std::string out = u.tls ? "https://" : "http://";
  out += u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  if (!u.default_port) out += ":" + u.port;
  out += u.base_path;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto url = awh::net::parse_url(text);
  if (!url) return 0;
  FUZZ_CHECK(!url->host.empty() && !url->port.empty());
  FUZZ_CHECK(url->base_path.empty() ||
             (url->base_path.front() == '/' && url->base_path.back() != '/'));
  FUZZ_CHECK(url->host_header().find(url->host) != std::string::npos);
  const auto again = awh::net::parse_url(serialise(*url));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->tls == url->tls && again->host == url->host && again->port == url->port &&
             again->base_path == url->base_path && again->default_port == url->default_port);
  FUZZ_CHECK(serialise(*again) == serialise(*url));
  return 0;
}
