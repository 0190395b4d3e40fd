#pragma once
// Temporary AWS credentials and their credential_process form (AWS SDKs "Sourcing credentials
// with an external process": Version 1 JSON on stdout).

#include <string>

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

}  // namespace awh::creds
