// Prints our endpoint table for the regions on stdin, one JSON line per region, service and
// variant, for test/unit/endpoints_botocore.py to compare with botocore's own resolver.
#include <fmt/format.h>

#include <iostream>
#include <string>

#include "aws/endpoints.hpp"

int main() {
  using awh::aws::Service;
  std::string region;
  while (std::getline(std::cin, region)) {
    if (region.empty()) continue;
    const auto name = awh::aws::normalize_fips_region(region);
    for (const auto service : {Service::rolesanywhere, Service::sts}) {
      for (const bool fips : {false, true}) {
        for (const bool dualstack : {false, true}) {
          const auto url =
              awh::aws::default_endpoint(service, name.region, {fips || name.fips, dualstack});
          fmt::print(R"({{"region":"{}","service":"{}","fips":{},"dualstack":{},"url":"{}",)"
                     R"("partition":"{}"}})"
                     "\n",
                     region, service == Service::sts ? "sts" : "rolesanywhere", fips, dualstack,
                     url, awh::aws::partition_of(name.region).id);
        }
      }
    }
  }
}
