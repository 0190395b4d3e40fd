#pragma once
// Temporary AWS credentials and their credential_process form (AWS SDKs "Sourcing credentials
// with an external process": Version 1 JSON on stdout).

#include <chrono>
#include <string>

#include "util/error.hpp"

namespace awh::creds {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;  // secret: never log
  std::string session_token;      // secret: never log
  std::string expiration;         // ISO 8601, verbatim from the service

  Credentials() = default;
  Credentials(const Credentials&) = default;
  Credentials(Credentials&&) noexcept = default;
  Credentials& operator=(const Credentials&) = default;
  Credentials& operator=(Credentials&&) noexcept = default;
  ~Credentials();  // wipes the secrets from memory
};

// Compact JSON, keys in the order AWS documents:
// {"Version":1,"AccessKeyId":…,"SecretAccessKey":…,"SessionToken":…,"Expiration":…}
std::string credential_process_json(const Credentials& c);

// Checked before any output: `expiration` must be an RFC 3339 time at least `min_left` after
// `now` (always in the future; a minute for what a process prints, which an SDK caches). Returns
// the parsed time, or errc::protocol naming the (escaped) text and what is wrong.
Result<std::chrono::system_clock::time_point> check_expiration(
    std::string_view expiration, std::chrono::system_clock::time_point now,
    std::chrono::seconds min_left);

}  // namespace awh::creds
