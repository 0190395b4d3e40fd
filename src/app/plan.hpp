#pragma once
// The run plan: what one invocation does, typed. parse_cli() builds it from its command table
// (app/cli.cpp) after validating every flag; app/run.cpp assembles the engine from it. Immutable
// once built.
//
// A command is a row of that table: which exchange, which output, one-shot or daemon. A new
// output type is a new alternative of Output plus its engine::Sink (engine/sinks.hpp).

#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "aws/rolesanywhere.hpp"
#include "aws/sts.hpp"
#include "creds/file_sink.hpp"
#include "net/proxy.hpp"
#include "net/url.hpp"
#include "spiffe/svid.hpp"
#include "util/log.hpp"

namespace awh::app {

// X.509-SVID -> IAM Roles Anywhere CreateSession.
struct RolesAnywhere {
  aws::CreateSessionParams session;  // ARNs, region, duration, session name
};
// JWT-SVID for `audience` -> STS AssumeRoleWithWebIdentity.
struct Sts {
  std::string audience;
  aws::WebIdentityParams params;  // role, session name, duration
};
using Exchange = std::variant<RolesAnywhere, Sts>;

struct ToStdout {};  // credential_process JSON
struct ToFile {      // a profile in an AWS credentials file
  creds::FileTarget target;
};
// A local HTTP endpoint that SDKs poll (container credential provider), serving the
// credentials held in memory.
struct BindAddress {
  std::string ip;     // an IP literal, without brackets
  unsigned port = 0;  // 0: any free port (printed at start)
};
struct ToServer {
  std::vector<BindAddress> binds;
  bool default_binds = true;         // the defaults: a host without IPv6 loopback still serves IPv4
  std::string token_file;            // where the bearer token is written (0600, no newline)
  bool listen_before_ready = false;  // listen (answering 503) before the first credentials
  std::optional<std::string> account_id;  // from the role ARN, for the AccountId field
  // The IMDSv2-compatible routes.
  std::string role_name;              // the role ARN's last path part ("" without a role)
  std::optional<std::string> region;  // placement/region
  bool imdsv1 = false;                // --imdsv1: GETs without a session token
  int hop_limit = 1;                  // --hop-limit: IP TTL / hop limit of answers
};
// `whoami`: the exchange, then STS GetCallerIdentity signed with the new credentials; prints
// the account, the ARN and the user id.
struct ToWhoami {
  net::Url sts_endpoint;
  std::string sts_region;  // the SigV4 scope's region
  bool json = false;       // --format json
};
using Output = std::variant<ToStdout, ToFile, ToServer, ToWhoami>;

// --config: an exchange served at a path of the file's endpoint (beside or instead of a profile).
struct ServedAt {
  std::string path;                       // "/roles/reader"
  std::optional<std::string> account_id;  // from the role ARN, for the AccountId field
};

// The read-only diagnostics (x509-svids, jwt-svids): list the SVIDs instead of exchanging one.
struct SvidListingRequest {
  bool jwt = false;
  std::string audience;  // jwt-svids
  bool json = false;     // --format json
};

enum class Mode {
  once,    // one exchange, bounded by --timeout, then exit
  daemon,  // renew until SIGTERM/SIGINT (serve: the first exchange must succeed within --timeout)
};

struct Plan {
  std::string command;  // the command's name, for messages
  Exchange exchange;
  Output output;
  Mode mode = Mode::once;
  // Set for x509-svids and jwt-svids (then `exchange` and `output` are unused).
  std::optional<SvidListingRequest> listing;
  // --config FILE (the file daemons): every exchange of the file, each a complete plan of its
  // own; this plan's exchange and output are the first one's, and its shared settings
  // (Workload API, CA bundle, timeout, logging) are every one's. Empty without --config.
  std::vector<Plan> exchanges;
  std::string config_path;
  // --config: the file's `serve` block (the endpoint the exchanges' paths are served on), and
  // in an exchange's plan the path it is served at. An exchange served only has the endpoint
  // as its `output` (a ToServer); one that also writes a profile has the ToFile.
  std::optional<ToServer> serve;
  std::optional<ServedAt> served;

  net::Url endpoint;                // Roles Anywhere or STS
  std::string endpoint_source;      // "--endpoint", "AWS_ENDPOINT_URL_STS", ... or "default"
  net::ProxySettings proxy;         // for the endpoint; never for the Workload API
  std::string workload_api_target;  // gRPC target, translated from the address
  spiffe::Selector selector;
  std::string ca_bundle;             // PEM path; empty: the system trust store
  std::chrono::seconds timeout{30};  // one-shot: the whole run; daemon: each exchange
  // Daemons: exchanges caused by a new SVID or SIGHUP are at least this far apart.
  std::chrono::seconds min_renew_interval{5};
  // The file daemons' --health-addr: /healthz, /readyz and /metrics on loopback (off unless
  // given; `serve` has them on its own listener).
  std::optional<BindAddress> health;
  // --cache (the *-credential-process commands): the cache directory (creds/cache_store.hpp).
  std::optional<std::string> cache_dir;
  // --dry-run: print the request the exchange would send, send nothing, write nothing.
  bool dry_run = false;
  // Debugging aids that expose secrets, off by default (README, "Secrets in memory").
  bool allow_core_dumps = false;  // --allow-core-dumps: keep the process dumpable
  bool allow_grpc_trace = false;  // --allow-grpc-trace: keep GRPC_TRACE / GRPC_VERBOSITY
  log::Level log_level = log::Level::info;
  log::Format log_format = log::Format::text;
};

}  // namespace awh::app
