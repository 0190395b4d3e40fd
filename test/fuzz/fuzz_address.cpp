// Workload API addresses (spiffe/address.hpp): an address that parses gives a gRPC target of
// one of three shapes, and the address written back from that target gives the same target.

#include <string>

#include "fuzz.hpp"
#include "spiffe/address.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto target = awh::spiffe::workload_api_target(text, "--workload-api-addr");
  if (!target) {
    FUZZ_CHECK(target.error().message.find("--workload-api-addr") != std::string::npos);
    return 0;
  }
  std::string back;
  if (target->starts_with("unix:/")) {
    back = "unix://" + target->substr(5);
  } else if (target->starts_with("ipv4:")) {
    back = "tcp://" + target->substr(5);
  } else {
    FUZZ_CHECK(target->starts_with("ipv6:["));
    back = "tcp://" + target->substr(5);
  }
  const auto again = awh::spiffe::workload_api_target(back, "--workload-api-addr");
  FUZZ_CHECK(again && *again == *target);
  return 0;
}
