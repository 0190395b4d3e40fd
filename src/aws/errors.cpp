#include "aws/errors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "util/text.hpp"

namespace awh::aws {

bool is_throttling_code(std::string_view code) {
  static constexpr std::array<std::string_view, 11> kCodes{
      "Throttling",
      "ThrottlingException",
      "ThrottledException",
      "RequestThrottledException",
      "TooManyRequestsException",
      "ProvisionedThroughputExceededException",
      "TransactionInProgressException",
      "RequestLimitExceeded",
      "BandwidthLimitExceeded",
      "LimitExceededException",
      "RequestThrottled",
  };
  return code == "SlowDown" || code == "PriorRequestNotComplete" ||
         code == "EC2ThrottledException" ||
         std::find(kCodes.begin(), kCodes.end(), code) != kCodes.end();
}

errc classify_aws_error(unsigned http_status, std::string_view code) {
  if (http_status == 429 || is_throttling_code(code)) return errc::throttled;
  if (code == "IDPCommunicationError" || http_status >= 500) return errc::server;
  return errc::denied;
}

Error make_aws_error(unsigned http_status, std::string_view code, std::string_view message) {
  // Both come from the peer: escaped and bounded before they reach a log line.
  const std::string safe_code = code.empty() ? fmt::format("HTTP {}", http_status)
                                             : util::escape_text(code, 100, util::Bytes::ascii);
  Error e = make_error(
      classify_aws_error(http_status, code),
      fmt::format("{}: {} (HTTP {})", safe_code,
                  util::escape_text(message, util::kMaxPeerText, util::Bytes::ascii), http_status));
  e.http_status = http_status;
  if (!code.empty()) e.aws_code = safe_code;
  return e;
}

}  // namespace awh::aws
