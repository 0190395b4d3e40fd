#pragma once
// Where the exchanges go: AWS partitions and the default endpoints of IAM Roles Anywhere and STS,
// as the AWS SDKs resolve them. Pure.
//
// The rules are those of the SDKs' endpoint rule sets (botocore's
// data/{rolesanywhere,sts}/.../endpoint-rule-set-1.json and data/partitions.json):
//   - a region belongs to the first partition whose region pattern it matches, else to `aws`;
//   - FIPS puts "-fips" after the service name; dual-stack swaps the DNS suffix for the
//     partition's dual-stack suffix (api.aws, ...); both can be combined;
//   - STS in aws-us-gov is FIPS already: FIPS without dual-stack is sts.<region>.amazonaws.com;
//   - a custom endpoint can't be combined with FIPS or dual-stack.
// A test compares every partition and flag combination with botocore's own resolver.

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace awh::aws {

struct Partition {
  std::string_view id;                    // aws, aws-cn, ...
  std::string_view dns_suffix;            // amazonaws.com
  std::string_view dualstack_dns_suffix;  // api.aws
};

// The partitions we know, in the SDKs' matching order.
std::span<const Partition> partitions();

// The partition with this id (as in an ARN), or nullptr.
const Partition* find_partition(std::string_view id);

// The partition `region` belongs to: the first whose region pattern matches, else `aws`.
const Partition& partition_of(std::string_view region);

enum class Service { rolesanywhere, sts };

struct EndpointVariant {
  bool fips = false;
  bool dualstack = false;
};

// The SDKs' default endpoint for `service` in `region` (https://..., no trailing slash).
std::string default_endpoint(Service service, std::string_view region, EndpointVariant variant);

// A FIPS pseudo-region ("fips-us-gov-west-1", "us-east-1-fips") names the plain region with FIPS
// on, as botocore reads it (client.py, _normalize_fips_region). The plain region is what goes
// into the signing scope, never the pseudo one.
struct RegionName {
  std::string region;  // without "fips-" / "-fips"
  bool fips = false;   // the name asked for FIPS
};
RegionName normalize_fips_region(std::string_view region);

using Getenv = std::function<std::optional<std::string>(const char*)>;

// A boolean setting from the environment (AWS_USE_FIPS_ENDPOINT, ...): "true"/"false" in any
// case; unset or empty is false; anything else is a usage error naming the variable.
Result<bool> env_flag(const Getenv& getenv, const std::string& name);

// The endpoint URL to use, by the SDKs' precedence: `flag_endpoint` (--endpoint), then
// AWS_ENDPOINT_URL_ROLESANYWHERE or AWS_ENDPOINT_URL_STS, then AWS_ENDPOINT_URL (both skipped when
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), then the default for the region and variant.
// A custom endpoint with FIPS or dual-stack is a usage error, as in the SDKs.
struct ChosenEndpoint {
  std::string url;
  std::string source;  // "--endpoint", "AWS_ENDPOINT_URL_STS", ..., or "default"
};
Result<ChosenEndpoint> choose_endpoint(Service service, std::string_view region,
                                       EndpointVariant variant, std::string_view flag_endpoint,
                                       const Getenv& getenv);

}  // namespace awh::aws
