#include <doctest/doctest.h>

#include "aws/arn.hpp"

using namespace awh;

TEST_CASE("ARNs parse into their fields") {
  auto a = aws::parse_arn("arn:aws:iam::123456789012:role/path/Name");
  REQUIRE(a.has_value());
  CHECK(a->partition == "aws");
  CHECK(a->service == "iam");
  CHECK(a->region.empty());
  CHECK(a->account == "123456789012");
  CHECK(a->resource == "role/path/Name");
}

TEST_CASE("bad ARNs are named errors") {
  CHECK_FALSE(aws::parse_arn("").has_value());
  CHECK_FALSE(aws::parse_arn("arn:aws:iam").has_value());
  CHECK_FALSE(aws::parse_arn("urn:aws:iam::123456789012:role/x").has_value());
  CHECK_FALSE(aws::parse_arn("arn:azure:iam::123456789012:role/x").has_value());
  CHECK_FALSE(aws::parse_arn("arn:aws:iam::123456789012:").has_value());
  CHECK_FALSE(aws::parse_arn("arn:aws:iam::123456789012:role/a b").has_value());
}

TEST_CASE("trust anchor, profile and role ARNs are checked for their kind") {
  CHECK(aws::parse_trust_anchor_arn("arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/x",
                                    "--t")
            .has_value());
  CHECK(aws::parse_profile_arn("arn:aws-cn:rolesanywhere:cn-north-1:123456789012:profile/x", "--p")
            .has_value());
  auto wrong_kind = aws::parse_trust_anchor_arn(
      "arn:aws:rolesanywhere:us-east-1:123456789012:profile/x", "--trust-anchor-arn");
  REQUIRE_FALSE(wrong_kind.has_value());
  CHECK(wrong_kind.error().message.rfind("--trust-anchor-arn: ", 0) == 0);
  CHECK(wrong_kind.error().message.find("trust-anchor") != std::string::npos);
  CHECK_FALSE(aws::parse_profile_arn("arn:aws:rolesanywhere:useast1:123456789012:profile/x", "--p")
                  .has_value());
  CHECK_FALSE(
      aws::parse_profile_arn("arn:aws:rolesanywhere:us-east-1:1234:profile/x", "--p").has_value());
  CHECK_FALSE(aws::parse_profile_arn("arn:aws:rolesanywhere:us-east-1:123456789012:profile/", "--p")
                  .has_value());
  CHECK_FALSE(aws::parse_profile_arn("arn:aws:iam::123456789012:role/x", "--p").has_value());
  CHECK(aws::parse_role_arn("arn:aws:iam::123456789012:role/x", "--r").has_value());
  CHECK_FALSE(aws::parse_role_arn("arn:aws:iam::123456789012:user/x", "--r").has_value());
  CHECK_FALSE(aws::parse_role_arn("arn:aws:iam:us-east-1:123456789012:role/x", "--r").has_value());
  CHECK_FALSE(aws::parse_role_arn("arn:aws:sts::123456789012:role/x", "--r").has_value());
}

TEST_CASE("regions") {
  CHECK(aws::valid_region("us-east-1"));
  CHECK(aws::valid_region("us-gov-west-1"));
  CHECK(aws::valid_region("cn-north-1"));
  CHECK_FALSE(aws::valid_region("us-east"));
  CHECK_FALSE(aws::valid_region("US-EAST-1"));
  CHECK_FALSE(aws::valid_region("us--1"));
  CHECK_FALSE(aws::valid_region(""));
}
