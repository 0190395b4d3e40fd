#include "app/cli.hpp"

#include <fmt/format.h>
#include <CLI/App.hpp>
#include <CLI/Config.hpp>
#include <CLI/Formatter.hpp>

#include <algorithm>
#include <cctype>

#include "aws/arn.hpp"
#include "aws/endpoints.hpp"
#include "creds/ini.hpp"
#include "spiffe/address.hpp"
#include "util/ip.hpp"
#include "util/strings.hpp"

namespace awh::app {
namespace {

// The command table: each command is one row (which exchange, which output, one-shot or daemon).
enum class ExchangeKind { x509, jwt };
enum class OutputKind { stdout_json, file, server };
struct CommandRow {
  const char* name;
  ExchangeKind exchange;
  OutputKind output;
  Mode mode;
  const char* description;
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
};

struct Raw {
  std::string trust_anchor_arn, profile_arn, role_arn, region, role_session_name;
  std::string workload_api_addr, endpoint, hint, spiffe_id, ca_bundle;
  std::string session_duration = "3600";
  std::string timeout = "30";
  std::string log_level = "info";
  std::string log_format = "text";
  bool debug = false;
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
  std::string proxy;
  bool no_proxy = false;
  bool use_fips = false;
  bool use_dualstack = false;
};

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
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  cmd.add_flag("--debug", raw.debug, "Same as --log-level debug");
  cmd.add_option("--log-format", raw.log_format,
                 "Log format on stderr: text or json (default text)")
      ->check(CLI::IsMember({"text", "json"}));
}

void add_x509(CLI::App& cmd, Raw& raw) {
  cmd.add_option("--trust-anchor-arn", raw.trust_anchor_arn,
                 "ARN of the Roles Anywhere trust anchor")
      ->required();
  cmd.add_option("--profile-arn", raw.profile_arn, "ARN of the Roles Anywhere profile")->required();
  cmd.add_option("--role-arn", raw.role_arn, "ARN of the IAM role to assume")->required();
  cmd.add_option("--region", raw.region, "AWS region (default: the trust anchor ARN's region)");
  cmd.add_option(
      "--endpoint", raw.endpoint,
      "Roles Anywhere endpoint URL (default $AWS_ENDPOINT_URL_ROLESANYWHERE, $AWS_ENDPOINT_URL, "
      "else https://rolesanywhere.<region>.<partition's domain>)");
}

void add_jwt(CLI::App& cmd, Raw& raw) {
  cmd.add_option("--audience", raw.audience,
                 "Audience of the JWT-SVID (what STS or the S3 store expects)")
      ->required();
  cmd.add_option("--endpoint", raw.endpoint,
                 "STS endpoint URL, e.g. a MinIO/Ceph RGW URL (default $AWS_ENDPOINT_URL_STS, "
                 "$AWS_ENDPOINT_URL, else https://sts.<region>.<partition's domain>)");
  cmd.add_option("--region", raw.region,
                 "AWS region, for the default STS endpoint (default $AWS_REGION, "
                 "$AWS_DEFAULT_REGION)");
  cmd.add_option("--role-arn", raw.role_arn, "ARN of the role to assume (optional for MinIO)");
}

// Flags every exchange command has.
void add_shared(CLI::App& cmd, Raw& raw) {
  cmd.add_option("--session-duration", raw.session_duration,
                 "Credential lifetime in seconds, 900..43200 (default 3600)");
  cmd.add_option("--role-session-name", raw.role_session_name,
                 "Role session name (2..64 of [A-Za-z0-9+=,.@_-])");
  cmd.add_option(
      "--workload-api-addr", raw.workload_api_addr,
      "Workload API address, unix:///path or tcp://IP:port (default $SPIFFE_ENDPOINT_SOCKET)");
  cmd.add_option("--hint", raw.hint, "Use the SVID with this hint");
  cmd.add_option("--spiffe-id", raw.spiffe_id, "Use the SVID with this SPIFFE ID");
  cmd.add_option(
      "--ca-bundle", raw.ca_bundle,
      "PEM file of CAs to trust for the endpoint (default $AWS_CA_BUNDLE, else the system store)");
  cmd.add_option("--timeout", raw.timeout, "Give up after this many seconds (default 30)");
  cmd.add_option("--proxy", raw.proxy,
                 "HTTP proxy for the AWS endpoint, http://[user:password@]host:port (default "
                 "$HTTPS_PROXY; $NO_PROXY still applies; never used for the Workload API)");
  cmd.add_flag("--no-proxy", raw.no_proxy,
               "Connect to the AWS endpoint directly, ignoring "
               "$HTTPS_PROXY");
  cmd.add_flag("--use-fips-endpoint", raw.use_fips,
               "Use the FIPS endpoint (default $AWS_USE_FIPS_ENDPOINT)");
  cmd.add_flag("--use-dualstack-endpoint", raw.use_dualstack,
               "Use the dual-stack (IPv4 and IPv6) endpoint (default $AWS_USE_DUALSTACK_ENDPOINT)");
}

void add_file(CLI::App& cmd, Raw& raw) {
  cmd.add_option("--aws-credentials-path", raw.credentials_path,
                 "The AWS credentials file to write")
      ->required();
  cmd.add_option("--profile", raw.profile, "The profile to write in it (default 'default')");
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
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  cmd.add_flag("--allow-remote", raw.allow_remote,
               "Allow --bind on an address that is not loopback");
  cmd.add_option(
         "--token-file", raw.token_file,
         "Where to write the bearer token SDKs send (0600; AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)")
      ->required();
  cmd.add_flag("--listen-before-ready", raw.listen_before_ready,
               "Listen at once, answering 503 until the first credentials arrive");
  cmd.add_flag("--imdsv1", raw.imdsv1,
               "IMDS routes: also answer GETs without a session token (IMDSv1)");
  cmd.add_option("--hop-limit", raw.hop_limit,
                 "IP TTL / hop limit of answers, 1..255 (default 1, as IMDS)");
}

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
  AWH_TRY(parsed, net::parse_proxy_url(proxy->second, proxy->first));
  out.https = std::move(*parsed);
  if (auto no_proxy = first_set({"no_proxy", "NO_PROXY"})) {
    out.no_proxy = net::parse_no_proxy(no_proxy->second);
  }
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
  if (auto exchange = row.exchange == ExchangeKind::jwt ? validate_jwt(raw, getenv, o)
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
  if (!raw.health_addr.empty()) {
    auto health = parse_bind(raw.health_addr, false);
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

  std::string addr = raw.workload_api_addr;
  std::string addr_source = "--workload-api-addr";
  if (addr.empty()) {
    addr = getenv("SPIFFE_ENDPOINT_SOCKET").value_or("");
    addr_source = "SPIFFE_ENDPOINT_SOCKET";
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
  AWH_TRY(proxy, validate_proxy(raw, getenv));
  o.proxy = std::move(*proxy);
  return o;
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

CliOutcome parse_cli(const std::vector<std::string>& args, const Getenv& getenv) {
  CLI::App app{"Turns a SPIFFE identity (X.509-SVID or JWT-SVID) into AWS credentials.", kProgram};
  app.set_version_flag("--version", std::string(kProgram) + " " AWH_VERSION);
  app.require_subcommand(1, 1);
  app.footer(
      "Logging flags (--debug, --log-level, --log-format) may also come before the command.");
  Raw raw;
  for (const auto& row : kCommands) {
    auto* cmd = app.add_subcommand(row.name, row.description);
    // Like the Go tool's flag parser: a repeated flag takes its last value.
    cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    cmd->set_version_flag("--version", std::string(kProgram) + " " AWH_VERSION);
    if (row.exchange == ExchangeKind::jwt) {
      add_jwt(*cmd, raw);
    } else {
      add_x509(*cmd, raw);
    }
    add_shared(*cmd, raw);
    if (row.output == OutputKind::file) add_file(*cmd, raw);
    if (row.output == OutputKind::server) add_serve(*cmd, raw);
    if (row.output == OutputKind::file && row.mode == Mode::daemon) {
      cmd->add_option(
          "--health-addr", raw.health_addr,
          "Serve /healthz, /readyz and /metrics on this loopback ADDR:PORT (off by default)");
    }
    add_common(*cmd, raw);
  }

  CliOutcome outcome;
  const std::vector<std::string> ordered = hoist_logging_flags(args);
  if (!ordered.empty() && !ordered.front().empty() && ordered.front().front() != '-' &&
      app.get_subcommands([&](CLI::App* sub) { return sub->check_name(ordered.front()); })
          .empty()) {
    outcome.exit_code = 2;
    outcome.err = fmt::format("{}: error: unknown command '{}' (see '{} --help')\n", kProgram,
                              ordered.front(), kProgram);
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
    outcome.exit_code = 2;
    std::string what = e.what();
    if (what.empty()) what = "invalid command line";
    outcome.err = fmt::format("{}: error: {} (see '{} --help')\n", kProgram, what, where);
    return outcome;
  }

  const std::string command_name = app.get_subcommands().front()->get_name();
  const auto& row = *std::find_if(std::begin(kCommands), std::end(kCommands),
                                  [&](const CommandRow& c) { return command_name == c.name; });
  auto plan = validate(raw, getenv, row);
  if (!plan) {
    outcome.exit_code = 2;
    outcome.err = fmt::format("{}: error: {} (see '{} {} --help')\n", kProgram,
                              plan.error().message, kProgram, command_name);
    return outcome;
  }
  outcome.plan = std::move(*plan);
  return outcome;
}

}  // namespace awh::app
