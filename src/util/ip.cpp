#include "util/ip.hpp"

#include <boost/asio/ip/address.hpp>

namespace awh::util {

std::optional<IpLiteral> parse_ip(std::string_view text) {
  if (text.empty() || text.find('%') != std::string_view::npos) return std::nullopt;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return IpLiteral{address.to_string(), address.is_v6(), address.is_loopback()};
}

}  // namespace awh::util
