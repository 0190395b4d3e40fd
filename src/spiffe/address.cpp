#include "spiffe/address.hpp"

#include <sys/un.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "util/ip.hpp"
#include "util/strings.hpp"
#include "util/text.hpp"

namespace awh::spiffe {

Result<std::string> workload_api_target(std::string_view address, std::string_view source) {
  auto bad = [&](std::string_view why) {
    return make_error(errc::usage, fmt::format("{}: '{}' is not a valid Workload API address: {}",
                                               source, util::escape_text(address, 256), why));
  };
  if (address.empty()) {
    return make_error(errc::usage,
                      fmt::format("{} is empty: set it or SPIFFE_ENDPOINT_SOCKET to the Workload "
                                  "API socket (e.g. unix:///run/spire/sockets/agent.sock)",
                                  source));
  }
  if (address.find_first_of("?#") != std::string_view::npos)
    return bad("no query or fragment allowed");
  if (address.rfind("unix:", 0) == 0) {
    std::string_view rest = address.substr(5);
    if (rest.rfind("//", 0) == 0) {
      rest.remove_prefix(2);
      // unix://<authority>/path: only an empty authority is allowed.
      if (rest.empty() || rest.front() != '/')
        return bad("unix addresses take no authority (use unix:///path)");
    }
    if (rest.empty() || rest.front() != '/') return bad("the socket path must be absolute");
    if (rest.find('@') != std::string_view::npos && rest.find('@') < rest.find('/', 1)) {
      return bad("no user-info allowed");
    }
    if (rest.size() == 1) return bad("the socket path is empty");
    // The path must fit sockaddr_un's sun_path with its NUL (unix(7)); gRPC would only log it.
    if (rest.size() >= sizeof(sockaddr_un::sun_path)) {
      return bad(fmt::format("the socket path is {} bytes long; a unix socket path has at most {}",
                             rest.size(), sizeof(sockaddr_un::sun_path) - 1));
    }
    return fmt::format("unix:{}", rest);
  }
  if (address.rfind("tcp://", 0) == 0) {
    std::string_view rest = address.substr(6);
    if (rest.find('@') != std::string_view::npos) return bad("no user-info allowed");
    if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
      if (slash + 1 != rest.size()) return bad("tcp addresses take no path");
      rest.remove_suffix(1);
    }
    const auto split = util::split_host_port(rest);
    if (!split) {
      return bad(!rest.empty() && rest.front() == '[' ? "expected tcp://[IPv6]:port"
                                                      : "a port is required (tcp://IP:port)");
    }
    const std::string_view host = split->host;
    const std::string_view port = split->port;
    if (!util::parse_port(port)) {
      return bad("invalid port");
    }
    const auto ip = util::parse_ip(host);
    if (!ip) return bad("the host must be an IP address, not a name");
    if (ip->v6) return fmt::format("ipv6:[{}]:{}", host, port);
    return fmt::format("ipv4:{}:{}", host, port);
  }
  return bad("the scheme must be unix or tcp");
}

}  // namespace awh::spiffe
