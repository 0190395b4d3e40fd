#include "net/url.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "util/ip.hpp"
#include "util/strings.hpp"

namespace awh::net {
namespace {

bool is_loopback(const std::string& host) {
  if (host == "localhost") return true;
  const auto ip = util::parse_ip(host);
  return ip && ip->loopback;
}

}  // namespace

std::string Url::host_header() const {
  const bool v6 = host.find(':') != std::string::npos;
  const std::string h = v6 ? fmt::format("[{}]", host) : host;
  return default_port ? h : fmt::format("{}:{}", h, port);
}

Result<Url> parse_url(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return make_error(errc::usage, fmt::format("'{}' is not a valid endpoint URL: {}", text, why));
  };
  Url url;
  std::string_view rest;
  if (text.rfind("https://", 0) == 0) {
    rest = text.substr(8);
  } else if (text.rfind("http://", 0) == 0) {
    url.tls = false;
    rest = text.substr(7);
  } else {
    return bad("it must start with https:// (or http:// for local testing)");
  }
  if (rest.find_first_of("?#") != std::string_view::npos)
    return bad("no query or fragment allowed");
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) return bad("no user-info allowed");
  std::string_view port;
  bool port_given = false;  // a ':' after the host, even with nothing after it
  const bool bracketed = !authority.empty() && authority.front() == '[';
  if (bracketed) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    url.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected text after the IPv6 address");
      port = after.substr(1);
      port_given = true;
    }
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      port_given = true;
    }
  }
  if (url.host.empty()) return bad("no host");
  // RFC 1035 §2.3.4 (and RFC 1123 §2.1): a host name is at most 253 characters in text form.
  if (url.host.size() > 253) return bad("the host name is longer than 253 characters");
  if (bracketed) {
    if (const auto ip = util::parse_ip(url.host); !ip || !ip->v6) {
      return bad("the bracketed host is not an IPv6 address");
    }
  } else {
    for (unsigned char c : url.host) {
      if (!(std::isalnum(c) || c == '.' || c == '-' || c == '_'))
        return bad("invalid host (IPv6 addresses go in [brackets])");
    }
  }
  if (!url.tls && !is_loopback(url.host)) {
    return bad(
        "http:// is allowed only for loopback hosts (localhost, 127.0.0.0/8, ::1); the "
        "credentials would otherwise cross the network in clear text");
  }
  // The colons inside [IPv6] don't count: "https://[::1]/" has no port (found by fuzz_url).
  if (port_given) {
    if (!util::parse_port(port)) {
      return bad("invalid port");
    }
    url.port = std::string(port);
    url.default_port = url.port == (url.tls ? "443" : "80");
  } else {
    url.port = url.tls ? "443" : "80";
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  // The path prefix goes verbatim into the request line and the canonical request, so allow
  // only segments that need no encoding or normalisation (SigV4 canonical URI).
  for (std::string_view rest = path; !rest.empty();) {
    rest.remove_prefix(1);  // '/'
    const auto next = rest.find('/');
    const auto segment = rest.substr(0, next);
    if (segment.empty() || segment == "." || segment == ".." ||
        !std::all_of(segment.begin(), segment.end(), [](unsigned char c) {
          return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
        })) {
      return bad("the path may only hold segments of [A-Za-z0-9._~-]");
    }
    rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next);
  }
  url.base_path = std::string(path);
  return url;
}

}  // namespace awh::net
