#include "net/proxy.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

#include "crypto/openssl.hpp"
#include "util/ip.hpp"
#include "util/strings.hpp"
#include "util/text.hpp"

namespace awh::net {
namespace {

using util::ascii_lower;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 §2.1 percent-decoding of user-info; nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    const int hi = i + 1 < in.size() ? hex_value(in[i + 1]) : -1;
    const int lo = i + 2 < in.size() ? hex_value(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// The address bytes of an IP literal (4 or 16 of them), or nullopt.
std::optional<std::vector<unsigned char>> ip_bytes(std::string_view text) {
  const std::string s(text);
  std::array<unsigned char, 16> buf{};
  if (inet_pton(AF_INET, s.c_str(), buf.data()) == 1)
    return std::vector(buf.begin(), buf.begin() + 4);
  if (inet_pton(AF_INET6, s.c_str(), buf.data()) == 1) return std::vector(buf.begin(), buf.end());
  return std::nullopt;
}

bool in_range(const std::vector<unsigned char>& addr, const std::vector<unsigned char>& net,
              unsigned bits) {
  if (addr.size() != net.size()) return false;
  for (std::size_t i = 0; i < addr.size() && bits > 0; ++i) {
    const unsigned take = std::min(bits, 8u);
    const auto mask = static_cast<unsigned char>(0xff00u >> take);
    if ((addr[i] & mask) != (net[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

}  // namespace

std::string Proxy::display() const {
  const bool v6 = host.find(':') != std::string::npos;
  const std::string h = v6 ? fmt::format("[{}]", host) : host;
  if (user.empty()) return fmt::format("http://{}:{}", h, port);
  return fmt::format("http://{}{}@{}:{}", util::escape_text(user, 64),
                     password.empty() ? "" : ":***", h, port);
}

Result<Proxy> parse_proxy_url(std::string_view text, std::string_view source) {
  Proxy proxy;
  proxy.source = std::string(source);
  // Name the problem, never the URL itself: it may hold a password.
  auto bad = [&](std::string_view why) {
    return make_error(errc::usage, fmt::format("{}: not a usable proxy URL: {}", source, why));
  };
  std::string_view rest = text;
  const auto scheme_end = rest.find("://");
  if (scheme_end != std::string_view::npos) {
    const std::string scheme = ascii_lower(rest.substr(0, scheme_end));
    if (scheme == "https") {
      return bad(
          "https:// proxies are not supported; use the proxy's http:// address (the "
          "tunnel to AWS is TLS end to end)");
    }
    if (scheme != "http") return bad(fmt::format("the scheme must be http://"));
    rest.remove_prefix(scheme_end + 3);
  }
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#") != std::string_view::npos)
    return bad("a proxy URL has no path, query or fragment");
  const auto at = rest.rfind('@');
  if (at != std::string_view::npos) {
    const auto userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    const auto colon = userinfo.find(':');
    auto user = percent_decode(userinfo.substr(0, colon));
    auto password = percent_decode(colon == std::string_view::npos ? std::string_view{}
                                                                   : userinfo.substr(colon + 1));
    if (!user || !password) return bad("a malformed %-escape in the user name or password");
    if (user->empty()) return bad("the user name is empty");
    const auto control = [](const std::string& s) {
      return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
    };
    if (control(*user) || control(*password))
      return bad("a control character in the user name or password");
    proxy.user = std::move(*user);
    proxy.password = std::move(*password);
    util::wipe(*password);
  }
  std::string_view host = rest;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const auto hp = util::split_host_port(rest);
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (!hp) return bad("unexpected text after the IPv6 address");
      port = hp->port;
    }
    const auto ip = util::parse_ip(host);
    if (!ip || !ip->v6) return bad("the bracketed host is not an IPv6 address");
  } else {
    const auto colon = rest.find(':');
    if (colon != std::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (port.empty()) return bad("the port is empty");
    }
    if (!std::all_of(host.begin(), host.end(), [](unsigned char c) {
          return std::isalnum(c) || c == '.' || c == '-' || c == '_';
        })) {
      return bad("invalid host (IPv6 addresses go in [brackets])");
    }
  }
  if (host.empty()) return bad("no host");
  if (!port.empty() && !util::parse_port(port)) return bad("invalid port");
  proxy.host = std::string(host);
  proxy.port = port.empty() ? "80" : std::string(port);
  return proxy;
}

std::vector<NoProxyEntry> parse_no_proxy(std::string_view text) {
  std::vector<NoProxyEntry> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find_first_of(", \t", start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(start, end - start);
    start = end + 1;
    if (item.empty()) continue;
    NoProxyEntry entry;
    if (item == "*") {
      entry.all = true;
      out.push_back(std::move(entry));
      continue;
    }
    // [v6]:port, [v6], host:port (one colon), or a bare IPv6 literal / CIDR (several colons).
    if (item.front() == '[') {
      const auto close = item.find(']');
      if (close == std::string_view::npos) continue;
      const auto after = item.substr(close + 1);
      if (!after.empty()) {
        if (after.front() == '/') {
          entry.host = std::string(item.substr(1, close - 1)) + std::string(after);
        } else if (after.front() == ':' && util::parse_port(after.substr(1))) {
          entry.host = std::string(item.substr(1, close - 1));
          entry.port = std::string(after.substr(1));
        } else {
          continue;
        }
      } else {
        entry.host = std::string(item.substr(1, close - 1));
      }
    } else if (std::count(item.begin(), item.end(), ':') == 1) {
      const auto colon = item.find(':');
      if (!util::parse_port(item.substr(colon + 1))) continue;
      entry.host = std::string(item.substr(0, colon));
      entry.port = std::string(item.substr(colon + 1));
    } else {
      entry.host = std::string(item);
    }
    if (const auto slash = entry.host.find('/'); slash != std::string::npos) {
      const std::string bits = entry.host.substr(slash + 1);
      entry.host.resize(slash);
      const auto addr = ip_bytes(entry.host);
      if (!addr || !util::all_digits(bits) || bits.size() > 3) continue;
      const unsigned n = static_cast<unsigned>(std::stoul(bits));
      if (n > addr->size() * 8) continue;
      entry.prefix_bits = n;
    }
    if (entry.host.rfind("*.", 0) == 0) entry.host.erase(0, 2);
    while (!entry.host.empty() && entry.host.front() == '.') entry.host.erase(0, 1);
    while (!entry.host.empty() && entry.host.back() == '.') entry.host.pop_back();
    if (entry.host.empty()) continue;
    if (const auto ip = util::parse_ip(entry.host); ip && !entry.prefix_bits) {
      entry.host = ip->text;
    } else {
      entry.host = ascii_lower(entry.host);
    }
    out.push_back(std::move(entry));
  }
  return out;
}

bool bypasses_proxy(const std::vector<NoProxyEntry>& no_proxy, std::string_view host,
                    std::string_view port) {
  std::string name = ascii_lower(host);
  while (!name.empty() && name.back() == '.') name.pop_back();
  const auto ip = util::parse_ip(name);
  const auto bytes = ip ? ip_bytes(name) : std::nullopt;
  if (ip) name = ip->text;
  for (const auto& e : no_proxy) {
    if (e.all) return true;
    if (!e.port.empty() && e.port != port) continue;
    if (e.prefix_bits) {
      if (bytes) {
        if (const auto net = ip_bytes(e.host); net && in_range(*bytes, *net, *e.prefix_bits))
          return true;
      }
      continue;
    }
    if (name == e.host) return true;
    // A name matches its parent domains' entries (never an IP literal's octets).
    if (!ip && name.size() > e.host.size() &&
        name.compare(name.size() - e.host.size(), e.host.size(), e.host) == 0 &&
        name[name.size() - e.host.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

const Proxy* proxy_for(const ProxySettings& settings, const Url& url) {
  if (!url.tls || !settings.https) return nullptr;
  if (bypasses_proxy(settings.no_proxy, url.host, url.port)) return nullptr;
  return &*settings.https;
}

std::string connect_request(const Proxy& proxy, std::string_view host, std::string_view port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  const std::string authority =
      v6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
  std::string out = fmt::format("CONNECT {0} HTTP/1.1\r\nHost: {0}\r\n", authority);
  if (!proxy.user.empty()) {
    std::string credentials = proxy.user + ":" + proxy.password.str();
    std::string encoded = crypto::base64(credentials);
    out += "Proxy-Authorization: Basic " + encoded + "\r\n";
    util::wipe(credentials);
    util::wipe(encoded);
  }
  out += "\r\n";
  return out;
}

}  // namespace awh::net
