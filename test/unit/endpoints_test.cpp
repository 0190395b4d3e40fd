// The endpoint table and the partitions. botocore's own resolver checks every partition and flag
// combination in test/integration/endpoints_botocore.py; these cases pin the rules that matter
// most and the inputs botocore never sees (the environment, custom endpoints).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <map>
#include <string>

#include "aws/arn.hpp"
#include "aws/endpoints.hpp"
#include "net/url.hpp"

using namespace awh;
using aws::Service;

namespace {

aws::Getenv env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    if (auto it = vars.find(name); it != vars.end()) return it->second;
    return std::nullopt;
  };
}

}  // namespace

TEST_CASE("regions map to partitions as the SDKs match them, unknown shapes to aws") {
  const std::map<std::string, std::string> cases = {
      {"us-east-1", "aws"},
      {"eu-central-2", "aws"},
      {"mx-central-1", "aws"},
      {"cn-north-1", "aws-cn"},
      {"us-gov-west-1", "aws-us-gov"},
      {"us-iso-east-1", "aws-iso"},
      {"us-isob-east-1", "aws-iso-b"},
      {"eu-isoe-west-1", "aws-iso-e"},
      {"us-isof-south-1", "aws-iso-f"},
      {"eusc-de-east-1", "aws-eusc"},
      {"aws-cn-global", "aws-cn"},
      {"zz-nowhere-1", "aws"},
  };
  for (const auto& [region, partition] : cases) {
    CAPTURE(region);
    CHECK(aws::partition_of(region).id == partition);
  }
  CHECK(aws::partitions().size() == 8);
  CHECK(aws::find_partition("aws-iso-f") != nullptr);
  CHECK(aws::find_partition("azure") == nullptr);
}

TEST_CASE("default endpoints: plain, FIPS, dual-stack and both, in several partitions") {
  using V = aws::EndpointVariant;
  CHECK(aws::default_endpoint(Service::rolesanywhere, "eu-west-2", V{}) ==
        "https://rolesanywhere.eu-west-2.amazonaws.com");
  CHECK(aws::default_endpoint(Service::rolesanywhere, "us-east-1", V{true, false}) ==
        "https://rolesanywhere-fips.us-east-1.amazonaws.com");
  CHECK(aws::default_endpoint(Service::rolesanywhere, "us-east-1", V{false, true}) ==
        "https://rolesanywhere.us-east-1.api.aws");
  CHECK(aws::default_endpoint(Service::rolesanywhere, "us-east-1", V{true, true}) ==
        "https://rolesanywhere-fips.us-east-1.api.aws");
  CHECK(aws::default_endpoint(Service::rolesanywhere, "cn-northwest-1", V{}) ==
        "https://rolesanywhere.cn-northwest-1.amazonaws.com.cn");
  CHECK(aws::default_endpoint(Service::sts, "cn-north-1", V{false, true}) ==
        "https://sts.cn-north-1.api.amazonwebservices.com.cn");
  CHECK(aws::default_endpoint(Service::sts, "us-east-1", V{}) ==
        "https://sts.us-east-1.amazonaws.com");
  CHECK(aws::default_endpoint(Service::sts, "us-east-1", V{true, false}) ==
        "https://sts-fips.us-east-1.amazonaws.com");
  // GovCloud STS is FIPS already: no "-fips" host, unless dual-stack too.
  CHECK(aws::default_endpoint(Service::sts, "us-gov-west-1", V{true, false}) ==
        "https://sts.us-gov-west-1.amazonaws.com");
  CHECK(aws::default_endpoint(Service::sts, "us-gov-west-1", V{true, true}) ==
        "https://sts-fips.us-gov-west-1.api.aws");
  CHECK(aws::default_endpoint(Service::rolesanywhere, "us-isob-east-1", V{}) ==
        "https://rolesanywhere.us-isob-east-1.sc2s.sgov.gov");
  CHECK(aws::default_endpoint(Service::rolesanywhere, "eusc-de-east-1", V{true, false}) ==
        "https://rolesanywhere-fips.eusc-de-east-1.amazonaws.eu");
  for (const auto& p : aws::partitions()) {
    CAPTURE(p.id);
    CHECK(net::parse_url(aws::default_endpoint(Service::sts, "us-east-1", V{true, true}))
              .has_value());
  }
}

TEST_CASE("a FIPS pseudo-region names the plain region with FIPS on") {
  CHECK(aws::normalize_fips_region("us-east-1").region == "us-east-1");
  CHECK_FALSE(aws::normalize_fips_region("us-east-1").fips);
  CHECK(aws::normalize_fips_region("fips-us-gov-west-1").region == "us-gov-west-1");
  CHECK(aws::normalize_fips_region("fips-us-gov-west-1").fips);
  CHECK(aws::normalize_fips_region("us-east-1-fips").region == "us-east-1");
  CHECK(aws::normalize_fips_region("us-east-1-fips").fips);
}

TEST_CASE("boolean settings from the environment") {
  CHECK(*aws::env_flag(env({}), "AWS_USE_FIPS_ENDPOINT") == false);
  CHECK(*aws::env_flag(env({{"AWS_USE_FIPS_ENDPOINT", "TRUE"}}), "AWS_USE_FIPS_ENDPOINT"));
  CHECK(*aws::env_flag(env({{"AWS_USE_FIPS_ENDPOINT", "false"}}), "AWS_USE_FIPS_ENDPOINT") ==
        false);
  auto bad = aws::env_flag(env({{"AWS_USE_FIPS_ENDPOINT", "yes\x1b"}}), "AWS_USE_FIPS_ENDPOINT");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().cls == errc::usage);
  CHECK(bad.error().message == "AWS_USE_FIPS_ENDPOINT: expected true or false, got 'yes\\x1b'");
}

TEST_CASE("endpoint precedence: --endpoint, then the service's variable, then AWS_ENDPOINT_URL") {
  const aws::EndpointVariant plain;
  const auto all = env({{"AWS_ENDPOINT_URL_STS", "https://sts.example"},
                        {"AWS_ENDPOINT_URL_ROLESANYWHERE", "https://ra.example"},
                        {"AWS_ENDPOINT_URL", "https://any.example"}});
  auto flag = aws::choose_endpoint(Service::sts, "us-east-1", plain, "https://flag.example", all);
  CHECK(flag->url == "https://flag.example");
  CHECK(flag->source == "--endpoint");
  CHECK(aws::choose_endpoint(Service::sts, "us-east-1", plain, "", all)->url ==
        "https://sts.example");
  CHECK(aws::choose_endpoint(Service::rolesanywhere, "us-east-1", plain, "", all)->source ==
        "AWS_ENDPOINT_URL_ROLESANYWHERE");
  const auto global = env({{"AWS_ENDPOINT_URL", "https://any.example"}});
  CHECK(aws::choose_endpoint(Service::sts, "us-east-1", plain, "", global)->url ==
        "https://any.example");
  const auto ignored = env({{"AWS_ENDPOINT_URL", "https://any.example"},
                            {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"}});
  auto fallback = aws::choose_endpoint(Service::sts, "eu-west-1", plain, "", ignored);
  CHECK(fallback->url == "https://sts.eu-west-1.amazonaws.com");
  CHECK(fallback->source == "default");
}

TEST_CASE("a custom endpoint with FIPS or dual-stack is refused, as in the SDKs") {
  auto fips = aws::choose_endpoint(Service::rolesanywhere, "us-east-1", {true, false},
                                   "https://flag.example", env({}));
  REQUIRE_FALSE(fips.has_value());
  CHECK(fips.error().cls == errc::usage);
  CHECK(fips.error().message.find("--endpoint sets a custom endpoint") != std::string::npos);
  auto dual = aws::choose_endpoint(Service::sts, "us-east-1", {false, true}, "",
                                   env({{"AWS_ENDPOINT_URL", "https://any.example"}}));
  REQUIRE_FALSE(dual.has_value());
  CHECK(dual.error().message.find("AWS_ENDPOINT_URL sets a custom endpoint") != std::string::npos);
  CHECK(dual.error().message.find("dual-stack") != std::string::npos);
}

TEST_CASE("ARNs parse in every partition") {
  for (const auto& p : aws::partitions()) {
    CAPTURE(p.id);
    auto arn =
        aws::parse_role_arn(fmt::format("arn:{}:iam::123456789012:role/r", p.id), "--role-arn");
    REQUIRE(arn.has_value());
    CHECK(arn->partition == p.id);
  }
  CHECK_FALSE(aws::parse_arn("arn:aws-mars:iam::123456789012:role/x").has_value());
}
