#pragma once
// The daemons' configuration file (--config FILE): several exchanges, each with its own ARNs or
// audience, SVID selector and outputs (a credentials-file profile, a path on the local
// credential endpoint, or both), served by one daemon. YAML, read with yaml-cpp.
//
// The keys are the command-line flags' names without the dashes; which keys exist, where each
// may be written and which take true/false is the ConfigSchema the command line derives from
// its own flag definitions (app/cli.cpp), and their values are validated exactly as the flags
// are. This module reads the file and checks its shape against the schema: known keys only, in
// their place, each once; a single value each (a list for repeatable flags; true or false for
// flags without a value); a non-empty `exchanges` list of mappings, each one either an
// X.509-SVID exchange (trust-anchor-arn, profile-arn, role-arn) or a JWT-SVID exchange
// (audience), never both, with at least one output; served paths well-formed, distinct, and
// only with a `serve` block. Every error is errc::usage and reads "FILE:LINE: what is wrong",
// naming the key.
//
//   workload-api-addr: unix:///run/spire/sockets/agent.sock   # the whole daemon
//   health-addr: 0.0.0.0:8081
//   aws-credentials-path: /var/run/aws/credentials              # a default for every exchange
//   serve:                                                      # the local credential endpoint
//     token-file: /run/aws/token
//     bind: 127.0.0.1:9911
//   exchanges:
//     - profile: prod                                           # a credentials-file profile
//       path: /roles/prod                                       # and/or a path on the endpoint
//       trust-anchor-arn: arn:aws:rolesanywhere:...:trust-anchor/...
//       profile-arn: arn:aws:rolesanywhere:...:profile/...
//       role-arn: arn:aws:iam::111111111111:role/reader
//       spiffe-id: spiffe://example.org/app                     # optional selector
//     - path: /roles/minio
//       audience: minio
//       endpoint: https://minio.example.internal:9000

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace awh::app {

// Where a key may be written.
enum class KeyScope {
  daemon,    // the top level only: one value for the whole daemon (workload-api-addr, ...)
  exchange,  // in an exchange only (role-arn, profile, path, ...)
  both,      // in an exchange, or at the top level as the default of every exchange
  serve,     // in the serve block (token-file, bind, ...)
};
struct ConfigKeySpec {
  std::string name;  // the flag's name without the dashes
  KeyScope scope = KeyScope::both;
  bool boolean = false;  // a flag without a value: true or false
  bool list = false;     // a repeatable flag: one value or a list of them
};
using ConfigSchema = std::vector<ConfigKeySpec>;

// The keys of an output (not flags of the file daemons, so not derived from them).
inline constexpr std::string_view kServeKey = "serve";
inline constexpr std::string_view kPathKey = "path";

struct ConfigValue {
  std::string text;                 // the scalar as written (numbers too; "true"/"false")
  std::vector<std::string> values;  // list keys: every value (`text` is the first)
  int line = 0;                     // 1-based
};
using ConfigKeys = std::map<std::string, ConfigValue, std::less<>>;

struct ConfigExchange {
  int line = 0;      // where its mapping starts
  bool jwt = false;  // audience: a JWT-SVID exchange; else X.509-SVID
  // With the top level's `both` keys filled in where the exchange has none. `profile` present:
  // a credentials-file output (aws-credentials-path then present too); `path`: served.
  ConfigKeys keys;
};

struct ConfigServe {
  int line = 0;
  ConfigKeys keys;
};

struct ConfigFile {
  std::string path;
  ConfigKeys globals;                // the top level's keys
  std::optional<ConfigServe> serve;  // the serve block
  std::vector<ConfigExchange> exchanges;
};

// `path` names the file in messages.
Result<ConfigFile> parse_config(std::string_view text, const std::string& path,
                                const ConfigSchema& schema);
// Reads the file (at most 1 MiB), then parse_config().
Result<ConfigFile> load_config(const std::string& path, const ConfigSchema& schema);

// A served path: "/" then segments of [A-Za-z0-9._~-] separated by single slashes, no "." or
// ".." segment, no trailing slash, at most 256 characters, and none of the endpoint's own routes
// (/healthz, /readyz, /metrics, /latest/...). The reason it is not, or nothing.
std::optional<std::string> serve_path_problem(std::string_view path);

// "FILE:LINE: message", errc::usage.
Error config_error(const std::string& path, int line, std::string_view message);

}  // namespace awh::app
