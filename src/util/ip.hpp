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

}  // namespace awh::util
