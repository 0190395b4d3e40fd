#include "aws/endpoints.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "util/strings.hpp"
#include "util/text.hpp"

namespace awh::aws {
namespace {

// One partition's region pattern: `<prefix>-\w+-\d+` for one of the prefixes (botocore
// data/partitions.json "regionRegex"), or the partition's "<id>-global" pseudo-region.
struct PartitionRule {
  Partition partition;
  std::array<std::string_view, 9> prefixes;  // unused entries are empty
};

// The order of data/partitions.json; `aws` first, as it is also the fallback.
constexpr std::array<PartitionRule, 8> kPartitions{{
    {{"aws", "amazonaws.com", "api.aws"}, {"us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"}},
    {{"aws-cn", "amazonaws.com.cn", "api.amazonwebservices.com.cn"}, {"cn"}},
    {{"aws-eusc", "amazonaws.eu", "api.amazonwebservices.eu"}, {"eusc-de"}},
    {{"aws-iso", "c2s.ic.gov", "api.aws.ic.gov"}, {"us-iso"}},
    {{"aws-iso-b", "sc2s.sgov.gov", "api.aws.scloud"}, {"us-isob"}},
    {{"aws-iso-e", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk"}, {"eu-isoe"}},
    {{"aws-iso-f", "csp.hci.ic.gov", "api.aws.hci.ic.gov"}, {"us-isof"}},
    {{"aws-us-gov", "amazonaws.com", "api.aws"}, {"us-gov"}},
}};

const std::array<Partition, 8> kPartitionList = [] {
  std::array<Partition, 8> out{};
  std::transform(kPartitions.begin(), kPartitions.end(), out.begin(),
                 [](const PartitionRule& r) { return r.partition; });
  return out;
}();

bool is_word(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '_';
  });
}

// `region` is `<prefix>-\w+-\d+`.
bool matches(std::string_view region, std::string_view prefix) {
  if (prefix.empty() || region.size() <= prefix.size() + 1) return false;
  if (region.substr(0, prefix.size()) != prefix || region[prefix.size()] != '-') return false;
  const auto rest = region.substr(prefix.size() + 1);
  const auto dash = rest.find('-');
  if (dash == std::string_view::npos) return false;
  return is_word(rest.substr(0, dash)) && util::all_digits(rest.substr(dash + 1));
}

bool ascii_iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::span<const Partition> partitions() { return kPartitionList; }

const Partition* find_partition(std::string_view id) {
  for (const auto& p : kPartitionList) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

const Partition& partition_of(std::string_view region) {
  for (std::size_t i = 0; i < kPartitions.size(); ++i) {
    const auto& rule = kPartitions[i];
    if (region.size() == rule.partition.id.size() + 7 &&
        region.substr(0, rule.partition.id.size()) == rule.partition.id &&
        region.substr(rule.partition.id.size()) == "-global") {
      return kPartitionList[i];
    }
    if (std::any_of(rule.prefixes.begin(), rule.prefixes.end(),
                    [&](std::string_view prefix) { return matches(region, prefix); })) {
      return kPartitionList[i];
    }
  }
  return kPartitionList[0];
}

std::string default_endpoint(Service service, std::string_view region, EndpointVariant variant) {
  const Partition& p = partition_of(region);
  const std::string_view name = service == Service::sts ? "sts" : "rolesanywhere";
  const std::string_view suffix = variant.dualstack ? p.dualstack_dns_suffix : p.dns_suffix;
  // STS in GovCloud: the regional endpoint is FIPS-validated already.
  if (service == Service::sts && variant.fips && !variant.dualstack && p.id == "aws-us-gov") {
    return fmt::format("https://sts.{}.amazonaws.com", region);
  }
  return fmt::format("https://{}{}.{}.{}", name, variant.fips ? "-fips" : "", region, suffix);
}

RegionName normalize_fips_region(std::string_view region) {
  // Python's str.replace: every non-overlapping occurrence, left to right, in one pass.
  const auto replace_all = [](std::string_view in, std::string_view marker) {
    std::string out;
    for (std::size_t at = 0;;) {
      const auto next = in.find(marker, at);
      out.append(in.substr(at, next - at));
      if (next == std::string_view::npos) return out;
      at = next + marker.size();
    }
  };
  std::string plain = replace_all(replace_all(region, "fips-"), "-fips");
  const bool fips = plain.size() != region.size();
  return {std::move(plain), fips};
}

Result<bool> env_flag(const Getenv& getenv, const std::string& name) {
  const auto value = getenv(name.c_str());
  if (!value || value->empty() || ascii_iequals(*value, "false")) return false;
  if (ascii_iequals(*value, "true")) return true;
  return make_error(errc::usage, fmt::format("{}: expected true or false, got '{}'", name,
                                             util::escape_text(*value, 64)));
}

Result<ChosenEndpoint> choose_endpoint(Service service, std::string_view region,
                                       EndpointVariant variant, std::string_view flag_endpoint,
                                       const Getenv& getenv) {
  ChosenEndpoint chosen;
  if (!flag_endpoint.empty()) {
    chosen = {std::string(flag_endpoint), "--endpoint"};
  } else {
    AWH_TRY(ignore, env_flag(getenv, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"));
    if (!*ignore) {
      const std::string specific =
          service == Service::sts ? "AWS_ENDPOINT_URL_STS" : "AWS_ENDPOINT_URL_ROLESANYWHERE";
      for (const auto& name : {specific, std::string("AWS_ENDPOINT_URL")}) {
        if (auto value = getenv(name.c_str()); value && !value->empty()) {
          chosen = {std::move(*value), name};
          break;
        }
      }
    }
  }
  if (chosen.url.empty()) {
    return ChosenEndpoint{default_endpoint(service, region, variant), "default"};
  }
  if (variant.fips || variant.dualstack) {
    return make_error(
        errc::usage,
        fmt::format("{} sets a custom endpoint, which can't be combined with {} (as in the AWS "
                    "SDKs): drop one of them",
                    chosen.source,
                    variant.fips ? "the FIPS endpoint (--use-fips-endpoint, "
                                   "AWS_USE_FIPS_ENDPOINT or a FIPS region name)"
                                 : "the dual-stack endpoint (--use-dualstack-endpoint or "
                                   "AWS_USE_DUALSTACK_ENDPOINT)"));
  }
  return chosen;
}

}  // namespace awh::aws
