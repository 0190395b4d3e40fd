#include "aws/arn.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "aws/endpoints.hpp"
#include "util/strings.hpp"

namespace awh::aws {
namespace {

Error arn_error(std::string_view flag, std::string_view what) {
  return make_error(errc::usage, fmt::format("{}: {}", flag, what));
}

Result<Arn> parse_rolesanywhere_arn(std::string_view text, std::string_view flag,
                                    std::string_view kind) {
  auto arn = parse_arn(text);
  if (!arn) return arn_error(flag, arn.error().message);
  const std::string expected =
      fmt::format("arn:{}:rolesanywhere:<region>:<account>:{}/<id>", arn->partition, kind);
  if (arn->service != "rolesanywhere") {
    return arn_error(flag, fmt::format("expected a Roles Anywhere ARN ({}), got service '{}'",
                                       expected, arn->service));
  }
  if (!valid_region(arn->region)) {
    return arn_error(flag, fmt::format("'{}' is not a valid region", arn->region));
  }
  if (arn->account.size() != 12 || !util::all_digits(arn->account)) {
    return arn_error(flag, "the account ID must be 12 digits");
  }
  const std::string prefix = std::string(kind) + "/";
  if (arn->resource.rfind(prefix, 0) != 0 || arn->resource.size() == prefix.size()) {
    return arn_error(flag, fmt::format("expected a {} ARN ({})", kind, expected));
  }
  return arn;
}

}  // namespace

bool valid_region(std::string_view region) {
  // <letters>(-<letters>)*-<digits>, e.g. us-east-1, us-gov-west-1, ap-southeast-4.
  if (region.empty() || region.size() > 32) return false;
  std::size_t parts = 0;
  std::size_t start = 0;
  while (start <= region.size()) {
    const auto end = std::min(region.find('-', start), region.size());
    const auto part = region.substr(start, end - start);
    if (part.empty()) return false;
    const bool last = end == region.size();
    if (last) {
      if (!util::all_digits(part)) return false;
    } else if (!std::all_of(part.begin(), part.end(),
                            [](unsigned char c) { return std::islower(c); })) {
      return false;
    }
    ++parts;
    start = end + 1;
  }
  return parts >= 3;
}

Result<Arn> parse_arn(std::string_view text) {
  if (text.empty()) return make_error(errc::usage, "the ARN is empty");
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (int i = 0; i < 5; ++i) {
    const auto colon = text.find(':', start);
    if (colon == std::string_view::npos) {
      return make_error(
          errc::usage,
          fmt::format("'{}' is not an ARN (arn:partition:service:region:account:resource)", text));
    }
    fields.push_back(text.substr(start, colon - start));
    start = colon + 1;
  }
  fields.push_back(text.substr(start));
  if (fields[0] != "arn") {
    return make_error(errc::usage,
                      fmt::format("'{}' is not an ARN (it must start with 'arn:')", text));
  }
  if (find_partition(fields[1]) == nullptr) {
    return make_error(errc::usage, fmt::format("unknown partition '{}' in ARN", fields[1]));
  }
  if (fields[2].empty()) return make_error(errc::usage, "the ARN has no service");
  if (fields[5].empty()) return make_error(errc::usage, "the ARN has no resource");
  for (unsigned char c : text) {
    if (c < 0x21 || c > 0x7e)
      return make_error(errc::usage, "the ARN contains a space or control character");
  }
  return Arn{std::string(fields[1]), std::string(fields[2]), std::string(fields[3]),
             std::string(fields[4]), std::string(fields[5])};
}

Result<Arn> parse_trust_anchor_arn(std::string_view text, std::string_view flag) {
  return parse_rolesanywhere_arn(text, flag, "trust-anchor");
}

Result<Arn> parse_profile_arn(std::string_view text, std::string_view flag) {
  return parse_rolesanywhere_arn(text, flag, "profile");
}

Result<Arn> parse_role_arn(std::string_view text, std::string_view flag) {
  auto arn = parse_arn(text);
  if (!arn) return arn_error(flag, arn.error().message);
  if (arn->service != "iam") {
    return arn_error(
        flag, fmt::format(
                  "expected an IAM role ARN (arn:aws:iam::<account>:role/<name>), got service '{}'",
                  arn->service));
  }
  if (!arn->region.empty()) return arn_error(flag, "an IAM role ARN has no region");
  if (arn->account.size() != 12 || !util::all_digits(arn->account)) {
    return arn_error(flag, "the account ID must be 12 digits");
  }
  if (arn->resource.rfind("role/", 0) != 0 || arn->resource.size() == 5) {
    return arn_error(flag, "expected a role ARN (arn:aws:iam::<account>:role/<name>)");
  }
  return arn;
}

}  // namespace awh::aws
