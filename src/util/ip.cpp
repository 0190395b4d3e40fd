#include "util/ip.hpp"

#include <boost/asio/ip/address.hpp>

namespace awh::util {

std::optional<IpLiteral> parse_ip(std::string_view text) {
  // Only the characters of an IPv4 or IPv6 literal (no zone, no NUL): make_address reads a C
  // string, so "::1\0junk" would otherwise pass as ::1 and the junk travel on (found by
  // fuzz_address).
  if (text.empty() || text.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos)
    return std::nullopt;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return IpLiteral{address.to_string(), address.is_v6(), address.is_loopback()};
}

std::optional<HostPort> split_host_port(std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    return HostPort{text.substr(1, close - 1), text.substr(close + 2), true};
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  return HostPort{text.substr(0, colon), text.substr(colon + 1), false};
}

}  // namespace awh::util
