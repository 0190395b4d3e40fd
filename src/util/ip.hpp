#pragma once
// IP literals: what the endpoint URL check and --bind need to know about an address. Pure.

#include <optional>
#include <string>
#include <string_view>

namespace awh::util {

struct IpLiteral {
  std::string text;  // normalised (e.g. "::1"), without brackets
  bool v6 = false;
  bool loopback = false;  // 127.0.0.0/8 or ::1
};

// An IPv4 or IPv6 literal (no brackets, no zone); nullopt for anything else (host names too).
std::optional<IpLiteral> parse_ip(std::string_view text);

// "host:port" split at the last colon, or "[v6]:port" at the bracket. Nothing is validated but
// the shape: nullopt for a '[' without "]:" after it, or no colon at all.
struct HostPort {
  std::string_view host;  // without brackets
  std::string_view port;
  bool bracketed = false;
};
std::optional<HostPort> split_host_port(std::string_view text);

}  // namespace awh::util
