#pragma once
// An HTTP/1.1 request as we send it and a response as we read it: plain values, no I/O. The
// exchange (net/steps.hpp) adds `Connection: close` and the Content-Length of `body`.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace awh::net {

struct HttpRequest {
  std::string method;
  std::string target;                                        // path and query, e.g. /sessions?a=b
  std::vector<std::pair<std::string, std::string>> headers;  // sent in this order
  std::string body;
};

struct HttpResponse {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // in the order received
  std::string body;

  // First header with this name (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

}  // namespace awh::net
