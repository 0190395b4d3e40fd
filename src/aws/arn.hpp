#pragma once
// Amazon Resource Names (AWS docs, "Amazon Resource Names (ARNs)"):
// arn:<partition>:<service>:<region>:<account-id>:<resource>.

#include <string>
#include <string_view>

#include "util/error.hpp"

namespace awh::aws {

struct Arn {
  std::string partition;  // one of aws/endpoints.hpp's partitions: aws, aws-cn, aws-us-gov, ...
  std::string service;
  std::string region;
  std::string account;
  std::string resource;
};

Result<Arn> parse_arn(std::string_view text);

// Validated, for the flag named `flag`: a Roles Anywhere trust anchor
// (`rolesanywhere:<region>:<acct>:trust-anchor/<id>`), profile (`.../profile/<id>`) or an IAM
// role (`iam::<acct>:role/<name>`). Errors name the flag and what is wrong.
Result<Arn> parse_trust_anchor_arn(std::string_view text, std::string_view flag);
Result<Arn> parse_profile_arn(std::string_view text, std::string_view flag);
Result<Arn> parse_role_arn(std::string_view text, std::string_view flag);

// True for names like us-east-1, eu-central-2, cn-north-1, us-gov-west-1.
bool valid_region(std::string_view region);

}  // namespace awh::aws
