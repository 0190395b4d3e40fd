#pragma once
// HTTPS proxies for the AWS endpoints (never for the Workload API): which proxy, if any, a request
// goes through, and the CONNECT request that opens the tunnel. Pure; the tunnel step itself is
// net/steps.hpp `tunnel`.
//
// What the AWS SDKs do (botocore's httpsession.py with urllib's proxy environment):
//   - HTTPS_PROXY / https_proxy name the proxy for https:// endpoints (lower case first);
//   - NO_PROXY / no_proxy list hosts that go direct: a comma- or space-separated list of host
//     names (matching the name and its subdomains; a leading "." or "*." is the same), "*" for
//     every host, IP literals, and CIDR ranges that match IP-literal hosts (as curl does);
//     an entry may end in ":port" to match that port only;
//   - the proxy URL is http://[user[:password]@]host[:port]; a URL without a scheme is taken as
//     http://; the port defaults to 80;
//   - the tunnel is `CONNECT host:port` (RFC 9110 §9.3.6), with `Proxy-Authorization: Basic`
//     (RFC 7617) when the URL has user-info; TLS then runs inside it with the endpoint's name.
// Plain http:// endpoints (loopback only, for local testing) always go direct: a proxy elsewhere
// can't reach our loopback, and the credentials would cross it in clear text.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/url.hpp"
#include "util/error.hpp"
#include "util/secret.hpp"

namespace awh::net {

struct Proxy {
  std::string host;  // without brackets
  std::string port;
  std::string user;             // percent-decoded; empty: no authentication
  util::SecretString password;  // percent-decoded
  std::string source;           // where it came from: "--proxy", "HTTPS_PROXY", ...

  // The URL for logs and errors, with the password replaced by "***".
  std::string display() const;
};

// Parses a proxy URL from `source` (named in errors). https:// proxies are refused (a TLS
// connection to the proxy itself is not supported), as are paths, queries and bad ports.
// The URL is never echoed with its password in an error.
Result<Proxy> parse_proxy_url(std::string_view text, std::string_view source);

struct NoProxyEntry {
  std::string host;  // lower case, no leading "." or "*."; an IP literal; or "" for "*"
  std::optional<unsigned> prefix_bits;  // a CIDR range when set (host is its address)
  std::string port;                     // "" for any port
  bool all = false;                     // "*"
};

// Parses a NO_PROXY value. Unusable entries are skipped (as the SDKs do), never an error.
std::vector<NoProxyEntry> parse_no_proxy(std::string_view text);

// True when `host` (no brackets) on `port` must go direct.
bool bypasses_proxy(const std::vector<NoProxyEntry>& no_proxy, std::string_view host,
                    std::string_view port);

struct ProxySettings {
  std::optional<Proxy> https;          // the proxy for https:// endpoints; nullopt: none
  std::vector<NoProxyEntry> no_proxy;  // hosts that go direct anyway
};

// The proxy a request to `url` goes through, or nullptr for a direct connection.
const Proxy* proxy_for(const ProxySettings& settings, const Url& url);

// The request that opens the tunnel to host:port through `proxy` (secret when it authenticates:
// wipe it after sending).
std::string connect_request(const Proxy& proxy, std::string_view host, std::string_view port);

}  // namespace awh::net
