// CLI11 checks paths with stat() instead of std::filesystem, which would link libstdc++'s
// filesystem code into the helper for that alone. Before any header that could include CLI11.
#define CLI11_HAS_FILESYSTEM 0

#include "app/cli.hpp"

#include <fmt/format.h>
#include <CLI/App.hpp>
#include <CLI/Config.hpp>
#include <CLI/Formatter.hpp>

#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "app/build_info.hpp"
#include "app/config.hpp"
#include "aws/arn.hpp"
#include "aws/endpoints.hpp"
#include "creds/cache.hpp"
#include "creds/ini.hpp"
#include "spiffe/address.hpp"
#include "util/ip.hpp"
#include "util/strings.hpp"
#include "util/text.hpp"

namespace awh::app {
namespace {

// The command table: each command is one row (which exchange, which output, one-shot or daemon).
enum class ExchangeKind { x509, jwt };
enum class OutputKind { stdout_json, file, server, whoami, listing };
struct CommandRow {
  const char* name;
  ExchangeKind exchange;
  OutputKind output;
  Mode mode;
  const char* description;
  const char* alias = nullptr;
};
constexpr CommandRow kCommands[] = {
    {"x509-credential-process", ExchangeKind::x509, OutputKind::stdout_json, Mode::once,
     "Exchange the X.509-SVID for AWS credentials with IAM Roles Anywhere and print them as "
     "credential_process JSON"},
    {"x509-credential-file", ExchangeKind::x509, OutputKind::file, Mode::daemon,
     "Keep a profile in an AWS credentials file fresh: a daemon that renews at half-life, when the "
     "X.509-SVID rotates and on SIGHUP"},
    {"x509-credential-file-oneshot", ExchangeKind::x509, OutputKind::file, Mode::once,
     "Exchange the X.509-SVID once and write the credentials to a profile in an AWS credentials "
     "file"},
    {"jwt-credential-process", ExchangeKind::jwt, OutputKind::stdout_json, Mode::once,
     "Exchange a JWT-SVID for AWS credentials with STS AssumeRoleWithWebIdentity and print them as "
     "credential_process JSON"},
    {"jwt-credential-file", ExchangeKind::jwt, OutputKind::file, Mode::daemon,
     "Keep a profile in an AWS credentials file fresh with STS AssumeRoleWithWebIdentity: a daemon "
     "that renews at half-life (a fresh JWT-SVID each time) and on SIGHUP"},
    {"x509-serve", ExchangeKind::x509, OutputKind::server, Mode::daemon,
     "Serve the credentials on a local endpoint that AWS SDKs poll (container credential "
     "provider), "
     "renewed in the background from the X.509-SVID"},
    {"jwt-serve", ExchangeKind::jwt, OutputKind::server, Mode::daemon,
     "Serve the credentials on a local endpoint that AWS SDKs poll (container credential "
     "provider), "
     "renewed in the background with STS AssumeRoleWithWebIdentity"},
    {"jwt-credential-file-oneshot", ExchangeKind::jwt, OutputKind::file, Mode::once,
     "Exchange a JWT-SVID once with STS and write the credentials to a profile in an AWS "
     "credentials file"},
    {"x509-whoami", ExchangeKind::x509, OutputKind::whoami, Mode::once,
     "Exchange the X.509-SVID with Roles Anywhere, then ask STS GetCallerIdentity who the "
     "credentials belong to: checks that the ARNs, the trust anchor and the SVID work together",
     "whoami"},
    {"jwt-whoami", ExchangeKind::jwt, OutputKind::whoami, Mode::once,
     "Exchange a JWT-SVID with STS, then ask STS GetCallerIdentity who the credentials belong to"},
    {"x509-svids", ExchangeKind::x509, OutputKind::listing, Mode::once,
     "List the X.509-SVIDs the Workload API offers (SPIFFE ID, hint, serial, validity, key, "
     "chain) and which one --hint/--spiffe-id select; read-only"},
    {"jwt-svids", ExchangeKind::jwt, OutputKind::listing, Mode::once,
     "List the JWT-SVIDs the Workload API offers for --audience (subject, audience, expiry, alg, "
     "key id; never the token) and which one --hint/--spiffe-id select; read-only"},
};

struct Raw {
  std::string trust_anchor_arn, profile_arn, role_arn, region, role_session_name;
  std::string workload_api_addr, endpoint, hint, spiffe_id, ca_bundle;
  std::string session_duration = "3600";
  std::string timeout = "30";
  std::string log_level = "info";
  std::string log_format = "text";
  bool debug = false;
  bool allow_core_dumps = false;
  bool allow_grpc_trace = false;
  std::string audience;
  std::string credentials_path;
  std::string profile = "default";
  bool force = false;
  bool replace = false;
  std::vector<std::string> binds;
  bool allow_remote = false;
  std::string token_file;
  bool listen_before_ready = false;
  bool imdsv1 = false;
  std::string hop_limit = "1";
  std::string health_addr;
  bool cache = false;
  std::string cache_dir;
  bool dry_run = false;
  std::string sts_endpoint;
  std::string format = "text";
  std::string exit_code_compat;
  std::string min_renew_interval = "5";
  std::string proxy;
  bool no_proxy = false;
  bool use_fips = false;
  bool use_dualstack = false;
  std::string config;
};

// The longest value each flag (and each environment variable standing in for one) may have,
// checked before anything else reads the value: no later check, message or I/O sees an unbounded
// input. A flag without a row gets kMaxPath. A new flag joins this table.
constexpr std::size_t kMaxPath = 4096;  // PATH_MAX
struct ValueLimit {
  std::string_view name;
  std::size_t max;
};
constexpr ValueLimit kValueLimits[] = {
    {"--trust-anchor-arn", 2048},  // IAM: ARNs are at most 2048 characters
    {"--profile-arn", 2048},
    {"--role-arn", 2048},
    {"--region", 64},
    {"--role-session-name", 64},  // IAM RoleSessionName
    {"--endpoint", 2048},         // a URL; its host name is limited to 253 by net::parse_url
    {"--workload-api-addr", kMaxPath},
    {"SPIFFE_ENDPOINT_SOCKET", kMaxPath},
    {"--hint", 256},
    {"--spiffe-id", 2048},  // SPIFFE ID §2.3: at most 2048 bytes
    {"--audience", 1024},
    {"--ca-bundle", kMaxPath},
    {"AWS_CA_BUNDLE", kMaxPath},
    {"--aws-credentials-path", kMaxPath},
    {"--token-file", kMaxPath},
    {"--profile", 256},
    {"--bind", 64},  // "[v6 address%zone]:port"
    {"--health-addr", 64},
    {"--session-duration", 16},
    {"--timeout", 16},
    {"--hop-limit", 16},
    {"--min-renew-interval", 16},
    {"--log-level", 16},
    {"--log-format", 16},
    {"--proxy", 2048},  // a URL, also https_proxy / HTTPS_PROXY
    {"https_proxy", 2048},
    {"HTTPS_PROXY", 2048},
    {"no_proxy", 8192},  // a list of host names
    {"NO_PROXY", 8192},
};

std::size_t value_limit(std::string_view name) {
  for (const auto& row : kValueLimits) {
    if (row.name == name) return row.max;
  }
  return kMaxPath;
}

Result<void> check_value_length(std::string_view name, std::string_view value) {
  const std::size_t max = value_limit(name);
  if (value.size() <= max) return {};
  return make_error(errc::usage,
                    fmt::format("{}: the value is {} bytes long; at most {} are allowed", name,
                                value.size(), max));
}

// How much of a usage error's text is shown (values are bounded by kValueLimits anyway).
constexpr std::size_t kMaxErrorText = 1024;

constexpr char kSummary[] =
    "Turns a SPIFFE identity (X.509-SVID or JWT-SVID) into AWS credentials.";

// The local endpoint's default port (no registered meaning; the same for every instance).
constexpr unsigned kDefaultServePort = 9911;

Result<int> parse_int(std::string_view flag, const std::string& text,
                      std::string_view unit = " of seconds") {
  if (text.size() > 9 || !util::all_digits(text)) {
    return make_error(errc::usage,
                      fmt::format("{}: '{}' is not a whole number{}", flag, text, unit));
  }
  return std::stoi(text);
}

void add_common(CLI::App& cmd, Raw& raw) {
  cmd.add_option("--log-level", raw.log_level,
                 "Log level: debug, info, warn or error (default info)")
      ->type_name("LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  cmd.add_flag("--debug", raw.debug, "Same as --log-level debug");
  cmd.add_option("--log-format", raw.log_format,
                 "Log format on stderr: text or json (default text)")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "json"}));
  cmd.add_option("--exit-code-compat", raw.exit_code_compat,
                 "go: exit 1 on usage errors, like the Go tool (default: 2)")
      ->check(CLI::IsMember({"go"}));
  cmd.add_flag("--allow-core-dumps", raw.allow_core_dumps,
               "Debugging: allow core dumps (they would hold the credentials and the SVID key)");
  cmd.add_flag("--allow-grpc-trace", raw.allow_grpc_trace,
               "Debugging: keep GRPC_TRACE and GRPC_VERBOSITY (gRPC's transport trace can print "
               "the SVID key)");
}

// The *-credential-process commands.
void add_cache(CLI::App& cmd, Raw& raw) {
  cmd.add_flag("--cache", raw.cache,
               "Reuse credentials cached by an earlier run for the same exchange and SVID while "
               "more than 16 minutes remain; parallel runs share one exchange");
  cmd.add_option("--cache-dir", raw.cache_dir,
                 "The cache directory (0700, ours; default $XDG_RUNTIME_DIR/" +
                     std::string(kProgram) + ", else /tmp/" + kProgram + "-<uid>)");
}

void add_whoami(CLI::App& cmd, Raw& raw) {
  cmd.add_option("--sts-endpoint", raw.sts_endpoint,
                 "STS endpoint for GetCallerIdentity (default $AWS_ENDPOINT_URL_STS, else STS in "
                 "the region)");
  cmd.add_option("--format", raw.format, "Output: text or json (default text)")
      ->check(CLI::IsMember({"text", "json"}));
}

void add_x509(CLI::App& cmd, Raw& raw) {
  cmd.add_option("--trust-anchor-arn", raw.trust_anchor_arn,
                 "ARN of the Roles Anywhere trust anchor")
      ->type_name("ARN")
      ->required();
  cmd.add_option("--profile-arn", raw.profile_arn, "ARN of the Roles Anywhere profile")
      ->type_name("ARN")
      ->required();
  cmd.add_option("--role-arn", raw.role_arn, "ARN of the IAM role to assume")
      ->type_name("ARN")
      ->required();
  cmd.add_option("--region", raw.region, "AWS region (default: the trust anchor ARN's region)")
      ->type_name("REGION");
  cmd.add_option(
         "--endpoint", raw.endpoint,
         "Roles Anywhere endpoint URL (default $AWS_ENDPOINT_URL_ROLESANYWHERE, $AWS_ENDPOINT_URL, "
         "else https://rolesanywhere.<region>.<partition's domain>)")
      ->type_name("URL");
}

void add_jwt(CLI::App& cmd, Raw& raw) {
  cmd.add_option("--audience", raw.audience,
                 "Audience of the JWT-SVID (what STS or the S3 store expects)")
      ->type_name("AUDIENCE")
      ->required();
  cmd.add_option("--endpoint", raw.endpoint,
                 "STS endpoint URL, e.g. a MinIO/Ceph RGW URL (default $AWS_ENDPOINT_URL_STS, "
                 "$AWS_ENDPOINT_URL, else https://sts.<region>.<partition's domain>)")
      ->type_name("URL");
  cmd.add_option("--region", raw.region,
                 "AWS region, for the default STS endpoint (default $AWS_REGION, "
                 "$AWS_DEFAULT_REGION)")
      ->type_name("REGION");
  cmd.add_option("--role-arn", raw.role_arn, "ARN of the role to assume (optional for MinIO)")
      ->type_name("ARN");
}

// The Workload API and SVID selection: every command has them.
void add_workload(CLI::App& cmd, Raw& raw) {
  cmd.add_option(
         "--workload-api-addr", raw.workload_api_addr,
         "Workload API address, unix:///path or tcp://IP:port (default $SPIFFE_ENDPOINT_SOCKET)")
      ->type_name("ADDR");
  cmd.add_option("--hint", raw.hint, "Use the SVID with this hint")->type_name("HINT");
  cmd.add_option("--spiffe-id", raw.spiffe_id, "Use the SVID with this SPIFFE ID")->type_name("ID");
  cmd.add_option("--timeout", raw.timeout, "Give up after this many seconds (default 30)")
      ->type_name("SECONDS");
}

// Flags every exchange command has.
void add_shared(CLI::App& cmd, Raw& raw) {
  cmd.add_option("--session-duration", raw.session_duration,
                 "Credential lifetime in seconds, 900..43200 (default 3600)")
      ->type_name("SECONDS");
  cmd.add_option("--role-session-name", raw.role_session_name,
                 "Role session name (2..64 of [A-Za-z0-9+=,.@_-])")
      ->type_name("NAME");
  add_workload(cmd, raw);
  cmd.add_option("--ca-bundle", raw.ca_bundle,
                 "PEM file of CAs to trust for the endpoint (default $AWS_CA_BUNDLE, else the "
                 "system store)")
      ->type_name("FILE");
  cmd.add_option("--proxy", raw.proxy,
                 "HTTP proxy for the AWS endpoint, http://[user:password@]host:port (default "
                 "$HTTPS_PROXY; $NO_PROXY still applies; never used for the Workload API)")
      ->type_name("URL");
  cmd.add_flag("--no-proxy", raw.no_proxy,
               "Connect to the AWS endpoint directly, ignoring "
               "$HTTPS_PROXY");
  cmd.add_flag("--use-fips-endpoint", raw.use_fips,
               "Use the FIPS endpoint (default $AWS_USE_FIPS_ENDPOINT)");
  cmd.add_flag("--use-dualstack-endpoint", raw.use_dualstack,
               "Use the dual-stack (IPv4 and IPv6) endpoint (default $AWS_USE_DUALSTACK_ENDPOINT)");
}

// The diagnostics (x509-svids, jwt-svids).
void add_listing(CLI::App& cmd, Raw& raw, ExchangeKind kind) {
  if (kind == ExchangeKind::jwt) {
    cmd.add_option("--audience", raw.audience, "Audience of the JWT-SVIDs to fetch")->required();
  }
  add_workload(cmd, raw);
  cmd.add_option("--format", raw.format, "Output format: text or json (default text)")
      ->check(CLI::IsMember({"text", "json"}));
}

void add_file(CLI::App& cmd, Raw& raw) {
  cmd.add_option("--aws-credentials-path", raw.credentials_path,
                 "The AWS credentials file to write")
      ->type_name("FILE")
      ->required();
  cmd.add_option("--profile", raw.profile, "The profile to write in it (default 'default')")
      ->type_name("NAME");
  cmd.add_flag("--force", raw.force,
               "Overwrite the file if it can't be parsed (other profiles in it are lost)");
  cmd.add_flag("--replace", raw.replace,
               "Write only our profile, dropping everything else in the file");
}

void add_serve(CLI::App& cmd, Raw& raw) {
  cmd.add_option(
         "--bind", raw.binds,
         fmt::format(
             "Listen on ADDR:PORT (an IP literal, [v6]:port; repeatable; default 127.0.0.1:{0} "
             "and [::1]:{0}; port 0: any free port)",
             kDefaultServePort))
      ->type_name("ADDR:PORT")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  cmd.add_flag("--allow-remote", raw.allow_remote,
               "Allow --bind on an address that is not loopback");
  cmd.add_option(
         "--token-file", raw.token_file,
         "Where to write the bearer token SDKs send (0600; AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)")
      ->type_name("FILE")
      ->required();
  cmd.add_flag("--listen-before-ready", raw.listen_before_ready,
               "Listen at once, answering 503 until the first credentials arrive");
  cmd.add_flag("--imdsv1", raw.imdsv1,
               "IMDS routes: also answer GETs without a session token (IMDSv1)");
  cmd.add_option("--hop-limit", raw.hop_limit,
                 "IP TTL / hop limit of answers, 1..255 (default 1, as IMDS)")
      ->type_name("N");
}

// The whole command line (below); `with_config`: nothing is required (--config gives it).
void define_cli(CLI::App& app, Raw& raw, std::string& shell, std::string& help_topic,
                bool with_config = false);

// ADDR:PORT with ADDR an IPv4 literal or a bracketed IPv6 literal; port 0..65535.
Result<BindAddress> parse_bind(const std::string& text, bool allow_remote) {
  const auto bad = [&](std::string_view why) {
    return make_error(errc::usage, fmt::format("--bind: '{}' {}", text, why));
  };
  const auto split = util::split_host_port(text);
  if (!split)
    return bad(!text.empty() && text.front() == '[' ? "is not [IPv6]:PORT"
                                                    : "has no port (ADDR:PORT)");
  const std::string host(split->host);
  const std::string port(split->port);
  if (!split->bracketed && host.find(':') != std::string::npos) {
    return bad("is an IPv6 address without brackets ([ADDR]:PORT)");
  }
  auto ip = util::parse_ip(host);
  if (!ip) return bad("does not start with an IP address (host names are not resolved)");
  const bool any_port = port == "0";
  const auto number = util::parse_port(port);
  if (!any_port && !number) return bad("has no valid port (0..65535)");
  if (!ip->loopback && !allow_remote) {
    return bad(
        "is not a loopback address; the credentials would be reachable from other hosts (add "
        "--allow-remote if that is what you want)");
  }
  return BindAddress{ip->text, any_port ? 0u : *number};
}

Result<ToServer> validate_server(const Raw& raw, const Plan& plan) {
  ToServer out;
  if (raw.token_file.empty()) return make_error(errc::usage, "--token-file: the path is empty");
  if (raw.token_file.back() == '/') {
    return make_error(errc::usage, fmt::format("--token-file: '{}' names a directory, not a file",
                                               raw.token_file));
  }
  out.token_file = raw.token_file;
  out.listen_before_ready = raw.listen_before_ready;
  out.default_binds = raw.binds.empty();
  if (raw.binds.empty()) {
    out.binds = {{"127.0.0.1", kDefaultServePort}, {"::1", kDefaultServePort}};
  } else {
    for (const auto& b : raw.binds) {
      AWH_TRY(bind, parse_bind(b, raw.allow_remote));
      out.binds.push_back(std::move(*bind));
    }
  }
  std::optional<std::string> role;
  if (const auto* ra = std::get_if<RolesAnywhere>(&plan.exchange)) {
    role = ra->session.role_arn;
    out.region = ra->session.region;
  }
  if (const auto* sts = std::get_if<Sts>(&plan.exchange)) {
    role = sts->params.role_arn;
    if (!raw.region.empty()) out.region = raw.region;
  }
  if (role) {
    if (auto arn = aws::parse_arn(*role)) {
      out.account_id = arn->account;
      out.role_name = arn->resource.substr(arn->resource.rfind('/') + 1);
    }
  }
  out.imdsv1 = raw.imdsv1;
  AWH_TRY(hops, parse_int("--hop-limit", raw.hop_limit, ""));
  if (*hops < 1 || *hops > 255) {
    return make_error(errc::usage,
                      fmt::format("--hop-limit: {} is out of range; it must be 1..255", *hops));
  }
  out.hop_limit = *hops;
  return out;
}

Result<creds::FileTarget> validate_file(const Raw& raw) {
  if (raw.credentials_path.empty())
    return make_error(errc::usage, "--aws-credentials-path: the path is empty");
  if (raw.credentials_path.back() == '/') {
    return make_error(errc::usage,
                      fmt::format("--aws-credentials-path: '{}' names a directory, not a file",
                                  raw.credentials_path));
  }
  if (auto name = creds::check_profile_name(raw.profile); !name) {
    return make_error(errc::usage, fmt::format("--profile: {:?} is not a usable profile name: {}",
                                               raw.profile, name.error().message));
  }
  return creds::FileTarget{raw.credentials_path, raw.profile, raw.force, raw.replace};
}

Result<int> validate_duration(const Raw& raw) {
  auto duration = parse_int("--session-duration", raw.session_duration);
  if (!duration) return duration.error();
  if (*duration < 900 || *duration > 43200) {
    return make_error(errc::usage, fmt::format("--session-duration: {} is out of range; it must be "
                                               "900..43200 seconds",
                                               *duration));
  }
  if (!raw.role_session_name.empty() && !valid_role_session_name(raw.role_session_name)) {
    return make_error(errc::usage,
                      "--role-session-name: it must be 2..64 characters of [A-Za-z0-9+=,.@_-]");
  }
  return *duration;
}

// The endpoint by the SDKs' precedence (aws/endpoints.hpp), checked as a URL.
Result<void> validate_endpoint(aws::Service service, const std::string& region,
                               aws::EndpointVariant variant, const Raw& raw, const Getenv& getenv,
                               Plan& o) {
  AWH_TRY(chosen, aws::choose_endpoint(service, region, variant, raw.endpoint, getenv));
  if (chosen->source == "default" && region.empty()) {
    return make_error(errc::usage,
                      "no STS endpoint: set --endpoint (or AWS_ENDPOINT_URL_STS), or --region "
                      "(or AWS_REGION) for AWS STS");
  }
  auto url = net::parse_url(chosen->url);
  if (!url) return make_error(errc::usage, chosen->source + ": " + url.error().message);
  o.endpoint = *url;
  o.endpoint_source = chosen->source;
  return {};
}

// FIPS and dual-stack from the flags, the environment and a FIPS pseudo-region (normalised in
// `region`).
Result<aws::EndpointVariant> endpoint_variant(const Raw& raw, const Getenv& getenv,
                                              std::string& region) {
  aws::EndpointVariant v;
  const auto name = aws::normalize_fips_region(region);
  region = name.region;
  AWH_TRY(fips_env, aws::env_flag(getenv, "AWS_USE_FIPS_ENDPOINT"));
  AWH_TRY(dualstack_env, aws::env_flag(getenv, "AWS_USE_DUALSTACK_ENDPOINT"));
  v.fips = raw.use_fips || *fips_env || name.fips;
  v.dualstack = raw.use_dualstack || *dualstack_env;
  return v;
}

// The region must belong to the partition of the ARNs (aws::partition_of, as the SDKs match it).
Result<void> check_partition(std::string_view region, std::string_view region_source,
                             std::string_view arn_partition, std::string_view arn_flag) {
  const auto& partition = aws::partition_of(region);
  if (partition.id != arn_partition) {
    return make_error(errc::usage,
                      fmt::format("{} {} is in the {} partition, but {} is in {}", region_source,
                                  region, partition.id, arn_flag, arn_partition));
  }
  return {};
}

// Roles Anywhere: the three ARNs, the region they share, the endpoint.
Result<void> validate_x509(const Raw& raw, const Getenv& getenv, Plan& o) {
  auto trust_anchor = aws::parse_trust_anchor_arn(raw.trust_anchor_arn, "--trust-anchor-arn");
  if (!trust_anchor) return trust_anchor.error();
  auto profile = aws::parse_profile_arn(raw.profile_arn, "--profile-arn");
  if (!profile) return profile.error();
  auto role = aws::parse_role_arn(raw.role_arn, "--role-arn");
  if (!role) return role.error();
  if (profile->region != trust_anchor->region) {
    return make_error(errc::usage,
                      fmt::format("--profile-arn is in region {} but --trust-anchor-arn is in {}; "
                                  "they must be in the same region",
                                  profile->region, trust_anchor->region));
  }
  if (profile->partition != trust_anchor->partition || role->partition != trust_anchor->partition) {
    return make_error(
        errc::usage,
        "--trust-anchor-arn, --profile-arn and --role-arn must be in the same partition");
  }
  AWH_TRY(in_partition, check_partition(trust_anchor->region, "the trust anchor's region",
                                        trust_anchor->partition, "--trust-anchor-arn"));
  std::string region = raw.region.empty() ? trust_anchor->region : raw.region;
  AWH_TRY(variant, endpoint_variant(raw, getenv, region));
  if (!aws::valid_region(region)) {
    return make_error(errc::usage, fmt::format("--region: '{}' is not a valid region", region));
  }
  if (region != trust_anchor->region) {
    return make_error(errc::usage,
                      fmt::format("--region {} does not match the trust anchor's region {}", region,
                                  trust_anchor->region));
  }
  auto duration = validate_duration(raw);
  if (!duration) return duration.error();
  // The signing scope takes the plain region, never a FIPS pseudo-region.
  o.exchange = RolesAnywhere{aws::CreateSessionParams{
      raw.trust_anchor_arn, raw.profile_arn, raw.role_arn, region, *duration,
      raw.role_session_name.empty() ? std::nullopt
                                    : std::optional<std::string>(raw.role_session_name)}};
  return validate_endpoint(aws::Service::rolesanywhere, region, *variant, raw, getenv, o);
}

// STS AssumeRoleWithWebIdentity: the audience, the optional role, the endpoint.
Result<void> validate_jwt(const Raw& raw, const Getenv& getenv, Plan& o) {
  if (raw.audience.empty()) return make_error(errc::usage, "--audience: the audience is empty");
  Sts sts{raw.audience, {}};
  std::optional<aws::Arn> role;
  if (!raw.role_arn.empty()) {
    AWH_TRY(parsed, aws::parse_role_arn(raw.role_arn, "--role-arn"));
    role = *parsed;
    sts.params.role_arn = raw.role_arn;
  }
  AWH_TRY(duration, validate_duration(raw));
  sts.params.duration_seconds = *duration;
  if (!raw.role_session_name.empty()) sts.params.role_session_name = raw.role_session_name;
  o.exchange = std::move(sts);
  std::string region_source = "--region";
  std::string region = raw.region;
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    if (!region.empty()) break;
    region = getenv(name).value_or("");
    region_source = name;
  }
  AWH_TRY(variant, endpoint_variant(raw, getenv, region));
  if (!region.empty()) {
    if (!aws::valid_region(region)) {
      return make_error(errc::usage,
                        fmt::format("{}: '{}' is not a valid region", region_source, region));
    }
    if (role) {
      AWH_TRY(in_partition, check_partition(region, region_source, role->partition, "--role-arn"));
    }
  }
  return validate_endpoint(aws::Service::sts, region, *variant, raw, getenv, o);
}

// The proxy for the AWS endpoint: --proxy, else HTTPS_PROXY (lower case first, as the SDKs read
// it); NO_PROXY applies to both; --no-proxy turns it all off.
Result<net::ProxySettings> validate_proxy(const Raw& raw, const Getenv& getenv) {
  net::ProxySettings out;
  if (raw.no_proxy) {
    if (!raw.proxy.empty()) {
      return make_error(errc::usage, "--proxy and --no-proxy can't be used together");
    }
    return out;
  }
  const auto first_set = [&](std::initializer_list<const char*> names)
      -> std::optional<std::pair<std::string, std::string>> {
    for (const char* name : names) {
      if (auto value = getenv(name); value && !value->empty()) return {{name, *value}};
    }
    return std::nullopt;
  };
  std::optional<std::pair<std::string, std::string>> proxy;
  if (!raw.proxy.empty()) {
    proxy = {"--proxy", raw.proxy};
  } else {
    proxy = first_set({"https_proxy", "HTTPS_PROXY"});
  }
  if (!proxy) return out;
  AWH_TRY(proxy_short, check_value_length(proxy->first, proxy->second));
  AWH_TRY(parsed, net::parse_proxy_url(proxy->second, proxy->first));
  out.https = std::move(*parsed);
  if (auto no_proxy = first_set({"no_proxy", "NO_PROXY"})) {
    AWH_TRY(no_proxy_short, check_value_length(no_proxy->first, no_proxy->second));
    out.no_proxy = net::parse_no_proxy(no_proxy->second);
  }
  return out;
}

// whoami: where GetCallerIdentity goes and the region it is signed for. Roles Anywhere: STS in
// the trust anchor's region, by the SDKs' endpoint precedence (AWS_ENDPOINT_URL_STS, ...).
// STS: the STS the exchange went to, signed for --region (or AWS_REGION, AWS_DEFAULT_REGION;
// else us-east-1). --sts-endpoint overrides both.
Result<ToWhoami> validate_whoami(const Raw& raw, const Getenv& getenv, const Plan& plan) {
  ToWhoami out;
  out.json = raw.format == "json";
  std::string region;
  if (const auto* ra = std::get_if<RolesAnywhere>(&plan.exchange)) {
    region = ra->session.region;
  } else {
    region = raw.region;
    for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
      if (region.empty()) region = getenv(name).value_or("");
    }
  }
  AWH_TRY(variant, endpoint_variant(raw, getenv, region));
  out.sts_region = region.empty() ? "us-east-1" : region;
  if (raw.sts_endpoint.empty() && std::holds_alternative<Sts>(plan.exchange)) {
    out.sts_endpoint = plan.endpoint;
    return out;
  }
  AWH_TRY(chosen, aws::choose_endpoint(aws::Service::sts, out.sts_region, *variant,
                                       raw.sts_endpoint, getenv));
  const std::string source =
      chosen->source == "--endpoint" ? std::string("--sts-endpoint") : chosen->source;
  auto url = net::parse_url(chosen->url);
  if (!url) return make_error(errc::usage, fmt::format("{}: {}", source, url.error().message));
  out.sts_endpoint = *url;
  return out;
}

Result<Plan> validate(const Raw& raw, const Getenv& getenv, const CommandRow& row) {
  Plan o;
  o.command = row.name;
  o.mode = row.mode;
  o.log_level = raw.debug                  ? log::Level::debug
                : raw.log_level == "debug" ? log::Level::debug
                : raw.log_level == "warn"  ? log::Level::warn
                : raw.log_level == "error" ? log::Level::error
                                           : log::Level::info;
  o.log_format = raw.log_format == "json" ? log::Format::json : log::Format::text;
  o.allow_core_dumps = raw.allow_core_dumps;
  o.allow_grpc_trace = raw.allow_grpc_trace;
  if (row.output == OutputKind::listing) {
    if (row.exchange == ExchangeKind::jwt && raw.audience.empty()) {
      return make_error(errc::usage, "--audience: the audience is empty");
    }
    o.listing =
        SvidListingRequest{row.exchange == ExchangeKind::jwt, raw.audience, raw.format == "json"};
  } else if (auto exchange = row.exchange == ExchangeKind::jwt ? validate_jwt(raw, getenv, o)
                                                               : validate_x509(raw, getenv, o);
             !exchange) {
    return exchange.error();
  }
  if (row.output == OutputKind::file) {
    AWH_TRY(file, validate_file(raw));
    o.output = ToFile{std::move(*file)};
  }
  if (row.output == OutputKind::server) {
    AWH_TRY(server, validate_server(raw, o));
    o.output = std::move(*server);
  }
  if (row.output == OutputKind::whoami) {
    AWH_TRY(whoami, validate_whoami(raw, getenv, o));
    o.output = std::move(*whoami);
  }
  if (!raw.cache_dir.empty() && !raw.cache) {
    return make_error(errc::usage, "--cache-dir: it only applies with --cache");
  }
  if (raw.cache) {
    if (raw.dry_run) return make_error(errc::usage, "--cache and --dry-run exclude each other");
    o.cache_dir = raw.cache_dir.empty()
                      ? creds::default_cache_dir(getenv("XDG_RUNTIME_DIR"), ::geteuid())
                      : raw.cache_dir;
  }
  o.dry_run = raw.dry_run;
  if (!raw.health_addr.empty()) {
    auto health = parse_bind(raw.health_addr, /*allow_remote=*/true);
    if (!health) {
      Error e = health.error();
      e.message.replace(0, std::string_view("--bind").size(), "--health-addr");
      return e;
    }
    o.health = *health;
  }

  auto timeout = parse_int("--timeout", raw.timeout);
  if (!timeout) return timeout.error();
  if (*timeout < 1 || *timeout > 3600) {
    return make_error(
        errc::usage,
        fmt::format("--timeout: {} is out of range; it must be 1..3600 seconds", *timeout));
  }
  o.timeout = std::chrono::seconds(*timeout);
  AWH_TRY(spacing, parse_int("--min-renew-interval", raw.min_renew_interval));
  if (*spacing > 3600) {
    return make_error(
        errc::usage,
        fmt::format("--min-renew-interval: {} is out of range; it must be 0..3600 seconds",
                    *spacing));
  }
  o.min_renew_interval = std::chrono::seconds(*spacing);

  std::string addr = raw.workload_api_addr;
  std::string addr_source = "--workload-api-addr";
  if (addr.empty()) {
    addr = getenv("SPIFFE_ENDPOINT_SOCKET").value_or("");
    addr_source = "SPIFFE_ENDPOINT_SOCKET";
    AWH_TRY(short_enough, check_value_length(addr_source, addr));
    if (addr.empty()) {
      return make_error(
          errc::usage,
          "no Workload API address: set --workload-api-addr or SPIFFE_ENDPOINT_SOCKET");
    }
  }
  auto target = spiffe::workload_api_target(addr, addr_source);
  if (!target) return target.error();
  o.workload_api_target = *target;

  if (!raw.hint.empty()) o.selector.hint = raw.hint;
  if (!raw.spiffe_id.empty()) {
    if (!spiffe::valid_spiffe_id(raw.spiffe_id)) {
      return make_error(errc::usage,
                        fmt::format("--spiffe-id: '{}' is not a valid SPIFFE ID", raw.spiffe_id));
    }
    o.selector.spiffe_id = raw.spiffe_id;
  }
  o.ca_bundle = raw.ca_bundle.empty() ? getenv("AWS_CA_BUNDLE").value_or("") : raw.ca_bundle;
  if (raw.ca_bundle.empty()) {
    AWH_TRY(short_enough, check_value_length("AWS_CA_BUNDLE", o.ca_bundle));
  }
  AWH_TRY(proxy, validate_proxy(raw, getenv));
  o.proxy = std::move(*proxy);
  return o;
}

// --config FILE. The file's keys are the flags' names (app/config.hpp); which keys exist, and
// which take true/false or a list, is read from the flag definitions themselves (define_cli),
// so a new flag of the file daemons is a key too. The lists below only say where a key goes.

// Flags about this command line, never keys of the file: they may come with --config.
constexpr std::string_view kCommandLineOnly[] = {
    "config",          "help", "version", "debug", "exit-code-compat", "allow-core-dumps",
    "allow-grpc-trace"};
// One value for the whole daemon: one Workload API client, one HTTPS client (its trust store and
// proxy), one health listener, one start-up deadline, one log.
constexpr std::string_view kDaemonKeys[] = {"workload-api-addr", "ca-bundle",   "proxy",
                                            "no-proxy",          "health-addr", "timeout",
                                            "log-level",         "log-format"};
// What an exchange exchanges, with which SVID, and where the credentials go.
constexpr std::string_view kExchangeOnlyKeys[] = {
    "profile", "trust-anchor-arn", "profile-arn", "role-arn", "audience", "hint", "spiffe-id"};
// Flags of the serve commands that a file can't set: the IMDS routes serve a single role.
constexpr std::string_view kNotInServeBlock[] = {"imdsv1"};
// The logging flags the command line may give with --config (they win over the file's).
constexpr std::string_view kLoggingFlags[] = {"--log-level", "--log-format", "--debug"};

template <std::size_t N>
bool listed_in(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

const CLI::App& command_of(const CLI::App& app, const char* name) {
  return *app.get_subcommand(name);
}

ConfigSchema make_config_schema() {
  CLI::App app{kSummary, kProgram};
  Raw raw;
  std::string shell, topic;
  define_cli(app, raw, shell, topic, true);
  ConfigSchema schema;
  const auto add = [&](const CLI::Option& opt, KeyScope scope) {
    if (opt.get_lnames().empty()) return;
    const std::string name = opt.get_lnames().front();
    if (listed_in(kCommandLineOnly, name)) return;
    if (std::any_of(schema.begin(), schema.end(), [&](const auto& s) { return s.name == name; }))
      return;
    ConfigKeySpec spec{name, scope};
    if (scope == KeyScope::both) {
      if (listed_in(kDaemonKeys, name)) spec.scope = KeyScope::daemon;
      if (listed_in(kExchangeOnlyKeys, name)) spec.scope = KeyScope::exchange;
    }
    spec.boolean = opt.get_expected_max() == 0;
    spec.list = opt.get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll;
    schema.push_back(std::move(spec));
  };
  for (const char* daemon : {"x509-credential-file", "jwt-credential-file"}) {
    for (const CLI::Option* opt : command_of(app, daemon).get_options()) add(*opt, KeyScope::both);
  }
  for (const char* serve : {"x509-serve", "jwt-serve"}) {
    for (const CLI::Option* opt : command_of(app, serve).get_options()) {
      if (!opt->get_lnames().empty() && !listed_in(kNotInServeBlock, opt->get_lnames().front())) {
        add(*opt, KeyScope::serve);
      }
    }
  }
  schema.push_back({std::string(kPathKey), KeyScope::exchange});
  return schema;
}

const ConfigSchema& config_schema() {
  static const ConfigSchema schema = make_config_schema();
  return schema;
}

// A flag's validation message, told in the file's terms: "--role-arn: ..." becomes
// "FILE:LINE: exchanges[i]: role-arn: ...", LINE being the first key the message names
// (else `line`).
Error config_validation_error(const ConfigFile& file, const std::string& where, int line,
                              const ConfigKeys& keys, std::string message) {
  std::size_t first = std::string::npos;
  for (const auto& [key, value] : keys) {
    const std::string flag = "--" + key;
    for (auto at = message.find(flag); at != std::string::npos; at = message.find(flag, at + 1)) {
      const auto end = at + flag.size();
      if (end < message.size() &&
          (std::islower(static_cast<unsigned char>(message[end])) || message[end] == '-')) {
        continue;  // --profile in --profile-arn
      }
      if (at < first) {
        first = at;
        line = value.line;
      }
      message.erase(at, 2);
      break;
    }
  }
  return config_error(file.path, line, fmt::format("{}{}", where, message));
}

// The file's keys as the command line `command` would take them, parsed by the same
// definitions (so CLI11's own checks, such as the choices of --log-level, apply).
Result<Raw> raw_from_keys(const char* command, const ConfigKeys& keys) {
  std::vector<std::string> args{kProgram, command};
  for (const auto& entry : keys) {
    // Not a structured binding: clang 14 can't capture one in the lambda below.
    const auto& key = entry.first;
    const auto& value = entry.second;
    if (key == kPathKey) continue;
    const auto& spec = *std::find_if(config_schema().begin(), config_schema().end(),
                                     [&](const auto& s) { return s.name == key; });
    if (spec.boolean) {
      if (value.text == "true") args.push_back("--" + key);
      continue;
    }
    for (const auto& v : value.values) {
      AWH_TRY(short_enough, check_value_length("--" + key, v));
      args.push_back(fmt::format("--{}={}", key, v));
    }
  }
  CLI::App app{kSummary, kProgram};
  Raw raw;
  std::string shell, topic;
  define_cli(app, raw, shell, topic, true);
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return make_error(errc::usage, e.what());
  }
  return raw;
}

const CommandRow& row_for(ExchangeKind kind, OutputKind output) {
  return *std::find_if(std::begin(kCommands), std::end(kCommands), [&](const CommandRow& c) {
    return c.output == output && c.mode == Mode::daemon && c.exchange == kind;
  });
}

// The account of the role an exchange assumes (the AccountId SDKs are told), if it has one.
std::optional<std::string> role_account(const Plan& plan) {
  std::optional<std::string> role;
  if (const auto* ra = std::get_if<RolesAnywhere>(&plan.exchange)) role = ra->session.role_arn;
  if (const auto* sts = std::get_if<Sts>(&plan.exchange)) role = sts->params.role_arn;
  if (!role) return std::nullopt;
  auto arn = aws::parse_arn(*role);
  if (!arn) return std::nullopt;
  return arn->account;
}

// Each exchange of the file becomes the plan its flags would make: those of the file daemon of
// its kind when it writes a profile, else those of the serve command of its kind (its output is
// then the serve block's endpoint). `cmd` is the command line's own parse, for the logging flags.
Result<Plan> validate_config(const Raw& flags, const CLI::App& cmd, const Getenv& getenv,
                             const CommandRow& row) {
  AWH_TRY(file, load_config(flags.config, config_schema()));
  const auto with_flags = [&](Raw& raw) {
    if (cmd.count("--log-level") != 0) raw.log_level = flags.log_level;
    if (cmd.count("--log-format") != 0) raw.log_format = flags.log_format;
    raw.debug = raw.debug || flags.debug;
    raw.allow_core_dumps = flags.allow_core_dumps;
    raw.allow_grpc_trace = flags.allow_grpc_trace;
  };
  std::optional<ToServer> server;
  if (file->serve) {
    const std::string where = fmt::format("{}: ", kServeKey);
    auto raw = raw_from_keys("x509-serve", file->serve->keys);
    if (!raw) {
      return config_validation_error(*file, where, file->serve->line, file->serve->keys,
                                     raw.error().message);
    }
    auto validated = validate_server(*raw, Plan{});
    if (!validated) {
      return config_validation_error(*file, where, file->serve->line, file->serve->keys,
                                     validated.error().message);
    }
    server = std::move(*validated);
  }
  Plan plan;
  for (std::size_t i = 0; i < file->exchanges.size(); ++i) {
    const auto& exchange = file->exchanges[i];
    const std::string where = fmt::format("exchanges[{}]: ", i);
    ConfigKeys keys = exchange.keys;
    for (const auto& [key, value] : file->globals) keys.emplace(key, value);  // daemon keys
    const bool to_file = keys.count("profile") != 0;
    if (!to_file) {
      // Served only: validated as the serve command, on the serve block's endpoint.
      for (const auto& [key, value] : file->serve->keys) keys.emplace(key, value);
      keys.erase("aws-credentials-path");
      keys.erase("force");
      keys.erase("replace");
    }
    const CommandRow& kind_row = row_for(exchange.jwt ? ExchangeKind::jwt : ExchangeKind::x509,
                                         to_file ? OutputKind::file : OutputKind::server);
    auto raw = raw_from_keys(kind_row.name, keys);
    if (!raw)
      return config_validation_error(*file, where, exchange.line, keys, raw.error().message);
    with_flags(*raw);
    auto one = validate(*raw, getenv, kind_row);
    if (!one)
      return config_validation_error(*file, where, exchange.line, keys, one.error().message);
    one->command = fmt::format("{} ({}[{}])", row.name, "exchanges", i);
    one->mode = Mode::daemon;
    if (const auto path = keys.find(kPathKey); path != keys.end()) {
      one->served = ServedAt{path->second.text, role_account(*one)};
    }
    // The profiles of one file are written together: --force and --replace are the file's.
    if (const auto* mine = std::get_if<ToFile>(&one->output)) {
      for (std::size_t j = 0; j < plan.exchanges.size(); ++j) {
        const auto* other = std::get_if<ToFile>(&plan.exchanges[j].output);
        if (other == nullptr || other->target.path != mine->target.path) continue;
        for (const auto& [name, a, b] :
             {std::tuple{"force", mine->target.force, other->target.force},
              std::tuple{"replace", mine->target.replace, other->target.replace}}) {
          if (a == b) continue;
          const auto key = keys.find(name);
          return config_error(
              file->path, key != keys.end() ? key->second.line : exchange.line,
              fmt::format("{}{}: differs from exchanges[{}], which writes the same file {} "
                          "(the file's profiles are written together; set it at the top level)",
                          where, name, j, mine->target.path));
        }
      }
    }
    plan.exchanges.push_back(std::move(*one));
  }
  if (server && std::none_of(plan.exchanges.begin(), plan.exchanges.end(),
                             [](const Plan& p) { return p.served.has_value(); })) {
    return config_error(file->path, file->serve->line,
                        fmt::format("{}: no exchange has a {} to serve", kServeKey, kPathKey));
  }
  // The shared settings (Workload API, CA bundle, proxy, timeout, health, logging) are the same
  // in every exchange: the first one's stand for them.
  Plan first = plan.exchanges.front();
  first.exchanges = std::move(plan.exchanges);
  first.command = row.name;
  first.config_path = flags.config;
  first.serve = std::move(server);
  first.served.reset();
  return first;
}

// The Go tool's --debug is a persistent root flag (`aws-spiffe-workload-helper --debug
// x509-credential-process ...`). Logging flags given before the command are moved after it,
// where the command's own parser takes them.
std::vector<std::string> hoist_logging_flags(const std::vector<std::string>& args) {
  std::vector<std::string> leading;
  std::size_t i = 0;
  while (i < args.size()) {
    const std::string& a = args[i];
    if (a == "--debug" || a.rfind("--log-level=", 0) == 0 || a.rfind("--log-format=", 0) == 0) {
      leading.push_back(a);
      ++i;
    } else if ((a == "--log-level" || a == "--log-format") && i + 1 < args.size()) {
      leading.push_back(a);
      leading.push_back(args[i + 1]);
      i += 2;
    } else {
      break;
    }
  }
  if (leading.empty() || i >= args.size() || args[i].empty() || args[i].front() == '-') return args;
  std::vector<std::string> out{args[i]};
  out.insert(out.end(), leading.begin(), leading.end());
  out.insert(out.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  return out;
}

}  // namespace

bool valid_role_session_name(std::string_view name) {
  return name.size() >= 2 && name.size() <= 64 &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '+' || c == '=' || c == ',' || c == '.' || c == '@' ||
                  c == '_' || c == '-';
         });
}

namespace {

constexpr char kHelpCommand[] = "help";
constexpr char kCompletionCommand[] = "completion";
constexpr char kManCommand[] = "man";

// The whole command line: the exchange commands of kCommands, and `help`, `completion` and the
// hidden `man` (which print text generated from this very definition).
// `with_config`: the command line has --config, so the exchange flags are not required.
void define_cli(CLI::App& app, Raw& raw, std::string& shell, std::string& help_topic,
                bool with_config) {
  app.set_version_flag("-v,--version", version_text(), "Print the version and build details");
  app.require_subcommand(1, 1);
  app.footer(
      "Logging flags (--debug, --log-level, --log-format) may also come before the command.");
  for (const auto& row : kCommands) {
    auto* cmd = app.add_subcommand(row.name, row.description);
    if (row.alias != nullptr) cmd->alias(row.alias);
    // Like the Go tool's flag parser: a repeated flag takes its last value.
    cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    cmd->set_version_flag("-v,--version", version_text(), "Print the version and build details");
    if (row.output == OutputKind::listing) {
      add_listing(*cmd, raw, row.exchange);
      add_common(*cmd, raw);
      continue;
    }
    if (row.exchange == ExchangeKind::jwt) {
      add_jwt(*cmd, raw);
    } else {
      add_x509(*cmd, raw);
    }
    add_shared(*cmd, raw);
    if (row.output == OutputKind::file) add_file(*cmd, raw);
    if (row.output == OutputKind::server) add_serve(*cmd, raw);
    if (row.output == OutputKind::stdout_json) add_cache(*cmd, raw);
    if (row.output == OutputKind::whoami) add_whoami(*cmd, raw);
    if (row.mode == Mode::once) {
      cmd->add_flag("--dry-run", raw.dry_run,
                    "Print the request the exchange would send (signed, public parts only) and "
                    "send nothing");
    }
    if (row.mode == Mode::daemon) {
      cmd->add_option("--min-renew-interval", raw.min_renew_interval,
                      "Exchanges caused by a new SVID or SIGHUP are at least this many seconds "
                      "apart (default 5)")
          ->type_name("SECONDS");
      // No credentials are served there, so any IP may be used: Kubernetes probes and
      // Prometheus reach a pod on its own IP, never on its loopback.
      cmd->add_option("--health-addr", raw.health_addr,
                      "Serve /healthz, /readyz and /metrics, never credentials, on ADDR:PORT "
                      "(e.g. 0.0.0.0:8081 for Kubernetes probes; off by default)")
          ->type_name("ADDR:PORT");
    }
    add_common(*cmd, raw);
    if ((row.output == OutputKind::file || row.output == OutputKind::server) &&
        row.mode == Mode::daemon) {
      cmd->add_option("--config", raw.config,
                      "Read several exchanges and their outputs (profiles, paths on one endpoint) "
                      "from this YAML file instead of the exchange and output flags (see README)")
          ->type_name("FILE");
      // With a file, the exchange flags are not required (they are not allowed either).
      if (with_config) {
        for (auto* opt : cmd->get_options()) opt->required(false);
      }
    }
  }
  // Handled before parsing (parse_cli): its argument may be a command's name.
  app.add_subcommand(kHelpCommand, "Show the help of the program, or of a command")
      ->add_option("COMMAND", help_topic, "The command to show the help of");
  std::vector<std::string> shells(std::begin(kShells), std::end(kShells));
  app.add_subcommand(kCompletionCommand,
                     "Print a shell completion script for bash, zsh or fish (e.g. into "
                     "/usr/share/bash-completion/completions/aws-spiffe-workload-helper)")
      ->add_option("SHELL", shell, "The shell: bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember(shells));
  app.add_subcommand(kManCommand, "Print the man page aws-spiffe-workload-helper(1) as roff")
      ->group("");  // hidden: for packagers
}

FlagDoc flag_doc(const CLI::Option& opt) {
  FlagDoc f;
  if (!opt.get_lnames().empty()) f.name = "--" + opt.get_lnames().front();
  if (!opt.get_snames().empty()) f.short_name = "-" + opt.get_snames().front();
  if (f.name.empty()) f.name = f.short_name, f.short_name.clear();
  f.description = opt.get_description();
  f.required = opt.get_required();
  f.repeatable = opt.get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll;
  if (opt.get_expected_max() > 0) {
    // CLI11 spells a value "NAME" or, with a list of choices, "NAME:{a,b}".
    std::string type = opt.get_type_name();
    if (const auto brace = type.find(":{"); brace != std::string::npos && type.back() == '}') {
      const std::string list = type.substr(brace + 2, type.size() - brace - 3);
      for (std::size_t start = 0; start <= list.size();) {
        const std::size_t comma = std::min(list.find(',', start), list.size());
        f.choices.push_back(list.substr(start, comma - start));
        start = comma + 1;
      }
      type.resize(brace);
    }
    f.value = type.empty() ? "VALUE" : type;
  }
  return f;
}

std::vector<FlagDoc> flag_docs(const CLI::App& app) {
  std::vector<FlagDoc> out;
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->nonpositional()) out.push_back(flag_doc(*opt));
  }
  return out;
}

}  // namespace

CliDoc describe_cli() {
  CLI::App app{kSummary, kProgram};
  Raw raw;
  std::string shell, topic;
  define_cli(app, raw, shell, topic);
  CliDoc doc;
  doc.program = kProgram;
  doc.version = AWH_VERSION;
  doc.summary = "AWS credentials from a SPIFFE identity (X.509-SVID or JWT-SVID)";
  doc.global_flags = flag_docs(app);
  // The logging flags are also taken before the command (hoist_logging_flags).
  const CLI::App* first = app.get_subcommands({}).front();
  for (const char* name : {"--debug", "--log-level", "--log-format"}) {
    for (const auto& f : flag_docs(*first)) {
      if (f.name == name) doc.global_flags.push_back(f);
    }
  }
  for (const CLI::App* sub : app.get_subcommands({})) {
    CommandDoc c;
    c.name = sub->get_name();
    c.description = sub->get_description();
    c.hidden = sub->get_group().empty();
    c.flags = flag_docs(*sub);
    for (const CLI::Option* opt : sub->get_options()) {
      if (opt->nonpositional()) continue;
      ArgDoc a;
      a.name = opt->get_name();
      a.description = opt->get_description();
      a.required = opt->get_required();
      a.choices = flag_doc(*opt).choices;
      c.args.push_back(std::move(a));
    }
    doc.commands.push_back(std::move(c));
  }
  return doc;
}

CliOutcome parse_cli(const std::vector<std::string>& args, const Getenv& getenv) {
  CLI::App app{kSummary, kProgram};
  Raw raw;
  std::string shell, help_topic;
  const bool with_config = std::any_of(args.begin(), args.end(), [](const std::string& a) {
    return a == "--config" || a.rfind("--config=", 0) == 0;
  });
  define_cli(app, raw, shell, help_topic, with_config);

  CliOutcome outcome;
  // --exit-code-compat go: usage errors exit 1 as the Go tool's do. Looked for before parsing,
  // since a parse error is one of them.
  int usage_code = 2;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--exit-code-compat=go" ||
        (args[i] == "--exit-code-compat" && i + 1 < args.size() && args[i + 1] == "go")) {
      usage_code = 1;
    }
  }
  const std::vector<std::string> ordered = hoist_logging_flags(args);
  const auto find_command = [&](const std::string& name) -> CLI::App* {
    auto found = app.get_subcommands([&](CLI::App* sub) { return sub->check_name(name); });
    return found.empty() ? nullptr : found.front();
  };
  if (!ordered.empty() && !ordered.front().empty() && ordered.front().front() != '-' &&
      !find_command(ordered.front())) {
    outcome.exit_code = usage_code;
    outcome.err = fmt::format("{}: error: unknown command '{}' (see '{} --help')\n", kProgram,
                              util::escape_text(ordered.front(), 64), kProgram);
    return outcome;
  }
  // `help [COMMAND]`: the same text as `--help` and `COMMAND --help` (the Go tool's Cobra has it).
  if (!ordered.empty() && ordered.front() == kHelpCommand) {
    if (ordered.size() == 1) {
      outcome.out = app.help();
      return outcome;
    }
    if (ordered[1] == "-h" || ordered[1] == "--help") {
      outcome.out = find_command(kHelpCommand)->help();
      return outcome;
    }
    const CLI::App* topic = ordered[1].front() == '-' ? nullptr : find_command(ordered[1]);
    if (!topic || ordered.size() > 2) {
      outcome.exit_code = usage_code;
      outcome.err = fmt::format(
          "{}: error: help: {} (see '{} --help')\n", kProgram,
          topic ? "takes one command" : fmt::format("unknown command '{}'", ordered[1]), kProgram);
      return outcome;
    }
    outcome.out = topic->help();
    return outcome;
  }
  std::vector<const char*> argv{kProgram};
  for (const auto& a : ordered) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::CallForHelp&) {
    const CLI::App* target = &app;
    for (auto* sub : app.get_subcommands()) target = sub;
    outcome.out = target->help();
    return outcome;
  } catch (const CLI::CallForVersion& e) {
    outcome.out = std::string(e.what()) + "\n";
    return outcome;
  } catch (const CLI::ParseError& e) {
    std::string where = kProgram;
    for (auto* sub : app.get_subcommands()) where += " " + sub->get_name();
    outcome.exit_code = usage_code;
    std::string what = e.what();
    if (what.empty()) what = "invalid command line";
    // CLI11 quotes the values it refuses: escaped and bounded, so the error stays one line.
    outcome.err = fmt::format("{}: error: {} (see '{} --help')\n", kProgram,
                              util::escape_text(what, kMaxErrorText), where);
    return outcome;
  }

  const std::string command_name = app.get_subcommands().front()->get_name();
  if (command_name == kCompletionCommand) {
    auto script = completion_script(describe_cli(), shell);
    if (!script) {  // unreachable: CLI11 checked the name against kShells
      outcome.exit_code = usage_code;
      outcome.err = fmt::format("{}: error: {}\n", kProgram, script.error().message);
      return outcome;
    }
    outcome.out = std::move(*script);
    return outcome;
  }
  if (command_name == kManCommand) {
    outcome.out = man_page(describe_cli());
    return outcome;
  }
  const auto& row = *std::find_if(std::begin(kCommands), std::end(kCommands),
                                  [&](const CommandRow& c) { return command_name == c.name; });
  const auto usage_error = [&](const Error& e) {
    outcome.exit_code = usage_code;
    outcome.err = fmt::format("{}: error: {} (see '{} {} --help')\n", kProgram,
                              util::escape_text(e.message, kMaxErrorText), kProgram, command_name);
    return outcome;
  };
  // Lengths first, before any other check looks at a value.
  for (const CLI::Option* option : app.get_subcommands().front()->get_options()) {
    for (const auto& value : option->results()) {
      if (auto ok = check_value_length(option->get_name(), value); !ok) {
        return usage_error(ok.error());
      }
    }
  }
  Result<Plan> plan = make_error(errc::internal, "unreachable");
  if (!raw.config.empty()) {
    // The file sets every exchange and output: only the logging flags and those about this
    // command line may come with it.
    const auto* cmd = app.get_subcommands().front();
    for (const auto* opt : cmd->get_options()) {
      const std::string name = opt->get_name();
      if (opt->count() == 0 || listed_in(kLoggingFlags, name) ||
          (!opt->get_lnames().empty() && listed_in(kCommandLineOnly, opt->get_lnames().front()))) {
        continue;
      }
      return usage_error(make_error(
          errc::usage,
          fmt::format("{} can't be combined with --config (the file sets every exchange and "
                      "output)",
                      name)));
    }
    plan = validate_config(raw, *cmd, getenv, row);
  } else {
    plan = validate(raw, getenv, row);
  }
  if (!plan) return usage_error(plan.error());
  outcome.plan = std::move(*plan);
  return outcome;
}

}  // namespace awh::app
