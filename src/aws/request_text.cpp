#include "aws/request_text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace awh::aws {

std::string request_text(const net::Url& endpoint, const net::HttpRequest& request,
                         const Signature* signature) {
  std::string out = fmt::format("{} {}://{}{}\n", request.method, endpoint.tls ? "https" : "http",
                                endpoint.host_header(), request.target);
  for (const auto& [name, value] : request.headers) out += fmt::format("{}: {}\n", name, value);
  out += fmt::format("\n{}\n", request.body);
  if (signature != nullptr) {
    out += fmt::format("\n-- canonical request --\n{}\n\n-- string to sign --\n{}\n",
                       signature->canonical_request, signature->string_to_sign);
  }
  return out;
}

std::string redact_jwt_signature(std::string_view jwt) {
  if (std::count(jwt.begin(), jwt.end(), '.') != 2) return "<token redacted>";
  return fmt::format("{}<signature redacted>", jwt.substr(0, jwt.rfind('.') + 1));
}

}  // namespace awh::aws
