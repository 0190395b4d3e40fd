#include "aws/errors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

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
  return code == "SlowDown" || code == "PriorRequestNotComplete" || code == "EC2ThrottledException" ||
         std::find(kCodes.begin(), kCodes.end(), code) != kCodes.end();
}

errc classify_aws_error(unsigned http_status, std::string_view code) {
  if (http_status == 429 || is_throttling_code(code)) return errc::throttled;
  if (code == "IDPCommunicationError" || http_status >= 500) return errc::server;
  return errc::denied;
}

Error make_aws_error(unsigned http_status, std::string_view code, std::string_view message) {
  Error e = make_error(classify_aws_error(http_status, code),
                       fmt::format("{}: {} (HTTP {})", code, message, http_status));
  e.http_status = http_status;
  e.aws_code = code;
  return e;
}

}  // namespace awh::aws
