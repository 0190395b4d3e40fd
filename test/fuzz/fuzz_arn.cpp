// ARNs (aws/arn.hpp): an ARN that parses is exactly its six fields joined by ':', and the typed
// parsers (trust anchor, profile, role) accept only what the general parser accepts, with the
// service, region and resource they promise.

#include <string>

#include "aws/arn.hpp"
#include "fuzz.hpp"

namespace {

std::string join(const awh::aws::Arn& a) {
  return "arn:" + a.partition + ":" + a.service + ":" + a.region + ":" + a.account + ":" +
         a.resource;
}

bool same(const awh::aws::Arn& a, const awh::aws::Arn& b) { return join(a) == join(b); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto arn = awh::aws::parse_arn(text);
  if (arn) {
    FUZZ_CHECK(join(*arn) == text);
    const auto again = awh::aws::parse_arn(join(*arn));
    FUZZ_CHECK(again && same(*again, *arn));
  }
  if (const auto ta = awh::aws::parse_trust_anchor_arn(text, "--trust-anchor-arn")) {
    FUZZ_CHECK(arn && same(*ta, *arn));
    FUZZ_CHECK(ta->service == "rolesanywhere" && awh::aws::valid_region(ta->region));
    FUZZ_CHECK(ta->resource.starts_with("trust-anchor/"));
  }
  if (const auto profile = awh::aws::parse_profile_arn(text, "--profile-arn")) {
    FUZZ_CHECK(arn && same(*profile, *arn));
    FUZZ_CHECK(profile->service == "rolesanywhere" && awh::aws::valid_region(profile->region));
    FUZZ_CHECK(profile->resource.starts_with("profile/"));
  }
  if (const auto role = awh::aws::parse_role_arn(text, "--role-arn")) {
    FUZZ_CHECK(arn && same(*role, *arn));
    FUZZ_CHECK(role->service == "iam" && role->region.empty());
    FUZZ_CHECK(role->resource.starts_with("role/"));
  }
  return 0;
}
