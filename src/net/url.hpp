#pragma once
// Endpoint URLs (`--endpoint`): http or https, a host (name, IPv4 or [IPv6]), an optional port,
// an optional path prefix. No user-info, query or fragment.

#include <string>
#include <string_view>

#include "util/error.hpp"

namespace awh::net {

struct Url {
  bool tls = true;
  std::string host;       // without brackets for IPv6
  std::string port;       // always set: explicit or 443/80
  std::string base_path;  // "" or "/prefix" without a trailing slash
  bool default_port = true;

  // The Host header value: host, plus :port when not the scheme's default.
  std::string host_header() const;
};

Result<Url> parse_url(std::string_view text);

}  // namespace awh::net
