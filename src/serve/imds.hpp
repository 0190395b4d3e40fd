#pragma once
// IMDSv2-compatible routes on the local endpoint, for clients that only know the EC2 instance
// metadata service (AWS_EC2_METADATA_SERVICE_ENDPOINT). What botocore's InstanceMetadataFetcher
// and the SDKs' IMDS providers use, as AWS documents IMDSv2 ("Use IMDSv2", "Retrieve security
// credentials from instance metadata"):
//  - PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds in 1..21600 -> a session
//    token (text); a missing or out-of-range TTL -> 400; a request carrying X-Forwarded-For ->
//    403 (IMDS refuses proxied token requests).
//  - GET /latest/meta-data/iam/security-credentials/ -> the role name;
//    GET /latest/meta-data/iam/security-credentials/<role> -> {"Code":"Success","LastUpdated",
//    "Type":"AWS-HMAC","AccessKeyId","SecretAccessKey","Token","Expiration"}; another name -> 404.
//  - GET /latest/meta-data/placement/region and .../availability-zone -> from --region.
//  - Every GET needs a live token in X-aws-ec2-metadata-token (401 otherwise), unless IMDSv1 is
//    allowed; answers to a token carry X-aws-ec2-metadata-token-ttl-seconds (what is left).
// Tokens: 256 random bits, at most `capacity` live at once (503 beyond), dropped at expiry,
// compared in constant time, never logged.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"
#include "util/secret.hpp"

namespace awh::serve {

inline constexpr int kMaxImdsTtlSeconds = 21600;

class ImdsTokens {
 public:
  using Time = std::chrono::steady_clock::time_point;
  explicit ImdsTokens(std::size_t capacity = 1024) : capacity_(capacity) {}

  // A new token valid for `ttl` from `now`; errc::throttled when `capacity` live tokens exist.
  Result<std::string> issue(std::chrono::seconds ttl, Time now);
  // What is left of `token`'s life, or nullopt (unknown or expired).
  std::optional<std::chrono::seconds> check(std::string_view token, Time now);
  std::size_t live(Time now);

 private:
  void evict(Time now);
  struct Entry {
    util::SecretString token;
    Time expires;
  };
  std::size_t capacity_;
  std::vector<Entry> entries_;
};

// IMDS settings from the command line.
struct ImdsSettings {
  std::string role_name;              // the last part of the role ARN ("" without a role)
  std::optional<std::string> region;  // placement/region; the zone is "<region>a"
  bool allow_v1 = false;              // --imdsv1: GETs without a token
};

}  // namespace awh::serve
