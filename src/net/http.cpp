#include "net/http.hpp"

#include <strings.h>

namespace awh::net {

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return {};
}

}  // namespace awh::net
