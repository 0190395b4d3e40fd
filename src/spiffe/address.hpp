#pragma once
// Workload API endpoint addresses (SPIFFE Workload Endpoint §4, "Locating the Endpoint"):
// `unix:///abs/path` (also `unix:/abs/path`) or `tcp://<IP>:<port>`. Other schemes, host names
// for tcp, paths for tcp, and authority/query/fragment/user-info for unix are rejected.

#include <string>
#include <string_view>

#include "util/error.hpp"

namespace awh::spiffe {

// Returns the gRPC target for `address`: "unix:/abs/path", "ipv4:1.2.3.4:8081" or
// "ipv6:[::1]:8081" (gRPC C++ does not understand tcp://). `source` names where the address
// came from (e.g. "--workload-api-addr") for the error message.
Result<std::string> workload_api_target(std::string_view address, std::string_view source);

}  // namespace awh::spiffe
