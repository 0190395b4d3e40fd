#pragma once
// The daemons' configuration file (--config FILE): several exchanges, each with its own ARNs or
// audience, SVID selector and output profile, served by one daemon. YAML, read with yaml-cpp.
//
// The keys are the command-line flags' names without the dashes, and their values are
// validated exactly as the flags are (app/cli.cpp); this module reads the file and checks its
// shape: known keys only, each once, a single value (string or number) each, a non-empty
// `exchanges` list of mappings, each one either an X.509-SVID exchange (trust-anchor-arn,
// profile-arn, role-arn) or a JWT-SVID exchange (audience), never both, with an output profile.
// Every error is errc::usage and reads "FILE:LINE: what is wrong", naming the key.
//
//   workload-api-addr: unix:///run/spire/sockets/agent.sock   # optional, as the flags
//   ca-bundle: /etc/ssl/private-ca.pem                          # optional
//   timeout: 30                                                 # optional
//   proxy: http://proxy.internal:3128                           # optional, as --proxy
//   aws-credentials-path: /var/run/aws/credentials              # default of every exchange
//   exchanges:
//     - profile: prod
//       trust-anchor-arn: arn:aws:rolesanywhere:...:trust-anchor/...
//       profile-arn: arn:aws:rolesanywhere:...:profile/...
//       role-arn: arn:aws:iam::111111111111:role/reader
//       spiffe-id: spiffe://example.org/app                     # optional selector
//     - profile: minio
//       audience: minio
//       endpoint: https://minio.example.internal:9000

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace awh::app {

struct ConfigValue {
  std::string text;  // the scalar as written (numbers too)
  int line = 0;      // 1-based
};
using ConfigKeys = std::map<std::string, ConfigValue, std::less<>>;

struct ConfigExchange {
  int line = 0;      // where its mapping starts
  bool jwt = false;  // audience: a JWT-SVID exchange; else X.509-SVID
  ConfigKeys keys;   // with aws-credentials-path filled in from the top level when missing
};

struct ConfigFile {
  std::string path;
  ConfigKeys globals;  // workload-api-addr, ca-bundle, timeout, proxy
  std::vector<ConfigExchange> exchanges;
};

// `path` names the file in messages.
Result<ConfigFile> parse_config(std::string_view text, const std::string& path);
// Reads the file (at most 1 MiB), then parse_config().
Result<ConfigFile> load_config(const std::string& path);

// "FILE:LINE: message", errc::usage.
Error config_error(const std::string& path, int line, std::string_view message);

}  // namespace awh::app
