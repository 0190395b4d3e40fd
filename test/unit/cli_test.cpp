#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <map>

#include "app/cli.hpp"

using namespace awh;

namespace {

const std::string kTa = "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/ta";
const std::string kProfile = "arn:aws:rolesanywhere:us-east-1:123456789012:profile/p";
const std::string kRole = "arn:aws:iam::123456789012:role/r";

app::CliOutcome parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  return app::parse_cli(args, [env](const char* name) -> std::optional<std::string> {
    auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
}

std::vector<std::string> base(std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"x509-credential-process",
                                "--trust-anchor-arn",
                                kTa,
                                "--profile-arn",
                                kProfile,
                                "--role-arn",
                                kRole,
                                "--workload-api-addr",
                                "unix:///tmp/agent.sock"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

const app::RolesAnywhere& ra(const app::CliOutcome& o) {
  return std::get<app::RolesAnywhere>(o.plan->exchange);
}
const app::Sts& sts(const app::CliOutcome& o) { return std::get<app::Sts>(o.plan->exchange); }
const creds::FileTarget& file(const app::CliOutcome& o) {
  return std::get<app::ToFile>(o.plan->output).target;
}

// A usage error: exit 2, one line on stderr naming `needle`, nothing on stdout.
void check_usage_error(const app::CliOutcome& o, const std::string& needle) {
  CAPTURE(o.err);
  CHECK_FALSE(o.plan.has_value());
  CHECK(o.exit_code == 2);
  CHECK(o.out.empty());
  CHECK(o.err.find(needle) != std::string::npos);
  CHECK(o.err.find("--help") != std::string::npos);
  CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
}

}  // namespace

TEST_CASE("a complete command line gives validated options with defaults") {
  auto o = parse(base());
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(ra(o).session.region == "us-east-1");
  CHECK(ra(o).session.duration_seconds == 3600);
  CHECK_FALSE(ra(o).session.role_session_name.has_value());
  CHECK(o.plan->endpoint.host == "rolesanywhere.us-east-1.amazonaws.com");
  CHECK(o.plan->endpoint.tls);
  CHECK(o.plan->workload_api_target == "unix:/tmp/agent.sock");
  CHECK(o.plan->timeout == std::chrono::seconds(30));
  CHECK(o.plan->log_level == log::Level::info);
  CHECK(o.plan->selector.empty());
  CHECK(o.plan->ca_bundle.empty());
}

TEST_CASE("every flag is taken") {
  auto o = parse(base({"--region", "us-east-1", "--session-duration", "900", "--role-session-name",
                       "a.b@c", "--endpoint", "http://127.0.0.1:9000", "--hint", "h", "--spiffe-id",
                       "spiffe://example.org/w", "--ca-bundle", "/ca.pem", "--timeout", "5",
                       "--debug", "--log-format", "json"}));
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(ra(o).session.duration_seconds == 900);
  CHECK(*ra(o).session.role_session_name == "a.b@c");
  CHECK_FALSE(o.plan->endpoint.tls);
  CHECK(*o.plan->selector.hint == "h");
  CHECK(*o.plan->selector.spiffe_id == "spiffe://example.org/w");
  CHECK(o.plan->ca_bundle == "/ca.pem");
  CHECK(o.plan->timeout == std::chrono::seconds(5));
  CHECK(o.plan->log_level == log::Level::debug);
  CHECK(o.plan->log_format == log::Format::json);
}

TEST_CASE(
    "logging flags are also taken before the command, like the Go tool's persistent --debug") {
  auto args = base();
  args.insert(args.begin(), "--debug");
  auto o = parse(args);
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(o.plan->log_level == log::Level::debug);
  args = base({"--log-level=warn"});
  args.insert(args.begin(), {"--log-format", "json"});
  o = parse(args);
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(o.plan->log_level == log::Level::warn);
  CHECK(o.plan->log_format == log::Format::json);
}

TEST_CASE("the environment supplies the socket and the CA bundle") {
  std::vector<std::string> args{"x509-credential-process",
                                "--trust-anchor-arn",
                                kTa,
                                "--profile-arn",
                                kProfile,
                                "--role-arn",
                                kRole};
  auto o = parse(args,
                 {{"SPIFFE_ENDPOINT_SOCKET", "tcp://127.0.0.1:8081"}, {"AWS_CA_BUNDLE", "/b.pem"}});
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(o.plan->workload_api_target == "ipv4:127.0.0.1:8081");
  CHECK(o.plan->ca_bundle == "/b.pem");
  check_usage_error(parse(args), "SPIFFE_ENDPOINT_SOCKET");
  check_usage_error(parse(args, {{"SPIFFE_ENDPOINT_SOCKET", "tcp://localhost:1"}}),
                    "SPIFFE_ENDPOINT_SOCKET");
}

TEST_CASE("China partition endpoints") {
  auto o =
      parse({"x509-credential-process", "--trust-anchor-arn",
             "arn:aws-cn:rolesanywhere:cn-north-1:123456789012:trust-anchor/ta", "--profile-arn",
             "arn:aws-cn:rolesanywhere:cn-north-1:123456789012:profile/p", "--role-arn",
             "arn:aws-cn:iam::123456789012:role/r", "--workload-api-addr", "unix:///s"});
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(o.plan->endpoint.host == "rolesanywhere.cn-north-1.amazonaws.com.cn");
}

TEST_CASE("help and version print to stdout and exit 0") {
  auto help = parse({"x509-credential-process", "--help"});
  CHECK(help.exit_code == 0);
  CHECK_FALSE(help.plan.has_value());
  CHECK(help.out.find("--trust-anchor-arn") != std::string::npos);
  auto version = parse({"--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.find(AWH_VERSION) != std::string::npos);
  CHECK(parse({"x509-credential-process", "--version"}).out.find(AWH_VERSION) != std::string::npos);
}

TEST_CASE("-v and --version: the version, the revision, the gRPC and OpenSSL versions") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"-v"}, {"--version"}, {"x509-serve", "-v"}}) {
    const auto v = parse(args);
    CHECK(v.exit_code == 0);
    CHECK(v.err.empty());
    CHECK(v.out.rfind(std::string("aws-spiffe-workload-helper ") + AWH_VERSION + "\n", 0) == 0);
    CHECK(v.out.find("\nrevision: ") != std::string::npos);
    CHECK(v.out.find("built with: gRPC 1.") != std::string::npos);
    CHECK(v.out.find(", OpenSSL 3.") != std::string::npos);
  }
}

TEST_CASE("help [command] is --help and <command> --help") {
  CHECK(parse({"help"}).out == parse({"--help"}).out);
  CHECK(parse({"help"}).exit_code == 0);
  const auto serve = parse({"help", "x509-serve"});
  CHECK(serve.exit_code == 0);
  CHECK(serve.out == parse({"x509-serve", "--help"}).out);
  CHECK(serve.out.find("--token-file") != std::string::npos);
  check_usage_error(parse({"help", "no-such-command"}), "no-such-command");
  check_usage_error(parse({"help", "x509-serve", "jwt-serve"}), "one command");
}

TEST_CASE("completion and man print generated text; a shell we don't know is a usage error") {
  for (const char* shell : {"bash", "zsh", "fish"}) {
    const auto c = parse({"completion", shell});
    CHECK(c.exit_code == 0);
    CHECK(c.out.find("x509-credential-file-oneshot") != std::string::npos);
    CHECK(c.out.find("token-file") != std::string::npos);
    CHECK(c.out.find("health-addr") != std::string::npos);
  }
  check_usage_error(parse({"completion", "ksh"}), "ksh");
  check_usage_error(parse({"completion"}), "SHELL");
  const auto man = parse({"man"});
  CHECK(man.exit_code == 0);
  CHECK(man.out.find(".TH AWS\\-SPIFFE\\-WORKLOAD\\-HELPER 1") != std::string::npos);
  // Hidden: not offered in the help or the completions.
  CHECK(parse({"--help"}).out.find("  man ") == std::string::npos);
  CHECK(parse({"completion", "bash"}).out.find(" man ") == std::string::npos);
}

TEST_CASE("--health-addr: the daemons' probe listener may face the pod network") {
  const std::vector<std::string> serve{
      "x509-serve", "--trust-anchor-arn",  kTa,         "--profile-arn", kProfile, "--role-arn",
      kRole,        "--workload-api-addr", "unix:///s", "--token-file",  "/t"};
  auto with = [&](std::vector<std::string> args, const std::string& addr) {
    args.insert(args.end(), {"--health-addr", addr});
    return parse(args);
  };
  const auto o = with(serve, "0.0.0.0:8081");
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  REQUIRE(o.plan->health.has_value());
  CHECK(o.plan->health->ip == "0.0.0.0");
  CHECK(o.plan->health->port == 8081u);
  check_usage_error(with(serve, "localhost:8081"), "--health-addr");
  check_usage_error(with(base(), "127.0.0.1:8081"), "--health-addr");  // not a daemon
}

TEST_CASE("describe_cli reads every command and flag from the definition parse_cli uses") {
  const auto doc = app::describe_cli();
  CHECK(doc.program == "aws-spiffe-workload-helper");
  const auto command = [&](const std::string& name) -> const app::CommandDoc& {
    const auto it = std::find_if(doc.commands.begin(), doc.commands.end(),
                                 [&](const app::CommandDoc& c) { return c.name == name; });
    REQUIRE(it != doc.commands.end());
    return *it;
  };
  const auto flag = [](const app::CommandDoc& c, const std::string& name) -> const app::FlagDoc& {
    const auto it = std::find_if(c.flags.begin(), c.flags.end(),
                                 [&](const app::FlagDoc& f) { return f.name == name; });
    REQUIRE_MESSAGE(it != c.flags.end(), name);
    return *it;
  };
  const auto& serve = command("x509-serve");
  CHECK(flag(serve, "--token-file").required);
  CHECK(flag(serve, "--token-file").file_value());
  CHECK(flag(serve, "--bind").repeatable);
  CHECK(flag(serve, "--bind").value == "ADDR:PORT");
  CHECK(flag(serve, "--allow-remote").value.empty());
  CHECK(flag(serve, "--log-level").choices ==
        std::vector<std::string>{"debug", "info", "warn", "error"});
  CHECK(flag(serve, "--version").short_name == "-v");
  CHECK(flag(command("x509-credential-file"), "--health-addr").value == "ADDR:PORT");
  CHECK(flag(command("jwt-serve"), "--health-addr").value == "ADDR:PORT");
  CHECK(command("man").hidden);
  CHECK(command("completion").args.at(0).choices ==
        std::vector<std::string>{"bash", "zsh", "fish"});
  // Every flag --help lists for a command is in its description, and the other way round.
  for (const auto& c : doc.commands) {
    const std::string help = parse({c.name, "--help"}).out;
    for (const auto& f : c.flags) CHECK_MESSAGE(help.find(f.name) != std::string::npos, f.name);
  }
}

TEST_CASE("bad input is a one-line usage error naming what is wrong") {
  check_usage_error(parse({}), "ubcommand");
  check_usage_error(parse({"no-such-command"}), "no-such-command");
  check_usage_error(parse({"--log-level", "verbose", "x509-credential-process"}), "--log-level");
  check_usage_error(parse({"--debug", "nope"}), "unknown command 'nope'");
  check_usage_error(parse({"x509-credential-process"}), "--trust-anchor-arn is required");
  check_usage_error(
      parse({"x509-credential-process", "--trust-anchor-arn", kTa, "--profile-arn", kProfile}),
      "--role-arn is required");
  check_usage_error(parse(base({"--bogus"})), "--bogus");
  check_usage_error(parse(base({"--session-duration", "899"})), "--session-duration");
  check_usage_error(parse(base({"--session-duration", "43201"})), "--session-duration");
  check_usage_error(parse(base({"--session-duration", "1h"})), "--session-duration");
  check_usage_error(parse(base({"--session-duration", "-5"})), "--session-duration");
  check_usage_error(parse(base({"--role-session-name", "a"})), "--role-session-name");
  check_usage_error(parse(base({"--role-session-name", std::string(65, 'a')})),
                    "--role-session-name");
  check_usage_error(parse(base({"--role-session-name", "bad name"})), "--role-session-name");
  check_usage_error(parse(base({"--role-session-name", "bad/name"})), "--role-session-name");
  check_usage_error(parse(base({"--region", "us-west-2"})), "--region");
  check_usage_error(parse(base({"--region", "nowhere"})), "--region");
  check_usage_error(parse(base({"--timeout", "0"})), "--timeout");
  check_usage_error(parse(base({"--endpoint", "ftp://x"})), "--endpoint");
  check_usage_error(parse(base({"--endpoint", "http://rolesanywhere.example.com"})), "loopback");
  check_usage_error(parse(base({"--spiffe-id", "web"})), "--spiffe-id");
  check_usage_error(parse(base({"--log-level", "loud"})), "--log-level");
  check_usage_error(parse(base({"--log-format", "xml"})), "--log-format");
  check_usage_error(parse(base({"--workload-api-addr", "http://x"})), "--workload-api-addr");
  check_usage_error(parse({"x509-credential-process", "--trust-anchor-arn", "nope", "--profile-arn",
                           kProfile, "--role-arn", kRole}),
                    "--trust-anchor-arn");
  check_usage_error(parse({"x509-credential-process", "--trust-anchor-arn", kTa, "--profile-arn",
                           kTa, "--role-arn", kRole}),
                    "--profile-arn");
  check_usage_error(parse({"x509-credential-process", "--trust-anchor-arn", kTa, "--profile-arn",
                           kProfile, "--role-arn", kProfile}),
                    "--role-arn");
  check_usage_error(
      parse({"x509-credential-process", "--trust-anchor-arn", kTa, "--profile-arn",
             "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/p", "--role-arn", kRole}),
      "same region");
}

TEST_CASE("the credentials-file commands take the file flags") {
  for (const char* command : {"x509-credential-file", "x509-credential-file-oneshot"}) {
    CAPTURE(command);
    auto args = base({"--aws-credentials-path", "/home/u/.aws/credentials"});
    args.front() = command;
    auto o = parse(args);
    REQUIRE_MESSAGE(o.plan.has_value(), o.err);
    CHECK(o.plan->command == command);
    CHECK(o.plan->mode ==
          (std::string(command) == "x509-credential-file" ? app::Mode::daemon : app::Mode::once));
    CHECK(std::holds_alternative<app::RolesAnywhere>(o.plan->exchange));
    CHECK(file(o).path == "/home/u/.aws/credentials");
    CHECK(file(o).profile == "default");
    CHECK_FALSE(file(o).force);
    CHECK_FALSE(file(o).replace);

    args.insert(args.end(), {"--profile", "work load", "--force", "--replace"});
    o = parse(args);
    REQUIRE_MESSAGE(o.plan.has_value(), o.err);
    CHECK(file(o).profile == "work load");
    CHECK(file(o).force);
    CHECK(file(o).replace);

    auto without_path = base();
    without_path.front() = command;
    check_usage_error(parse(without_path), "--aws-credentials-path is required");
    for (const char* bad_profile : {"", " default", "default ", "a]b", "[x", "a\nb"}) {
      CAPTURE(bad_profile);
      auto bad = args;
      bad.insert(bad.end(), {"--profile", bad_profile});
      check_usage_error(parse(bad), "--profile");
    }
    auto dir = base({"--aws-credentials-path", "/home/u/.aws/"});
    dir.front() = command;
    check_usage_error(parse(dir), "--aws-credentials-path");
    auto empty = base({"--aws-credentials-path", ""});
    empty.front() = command;
    check_usage_error(parse(empty), "--aws-credentials-path");
  }
  // The file flags belong to the file commands only.
  check_usage_error(parse(base({"--aws-credentials-path", "/x"})), "--aws-credentials-path");
  check_usage_error(parse(base({"--force"})), "--force");
}

TEST_CASE("the JWT commands: audience, STS endpoint, optional role") {
  const std::vector<std::string> jwt{"jwt-credential-process", "--audience", "sts.amazonaws.com",
                                     "--workload-api-addr", "unix:///tmp/agent.sock"};
  auto with = [&](std::vector<std::string> extra, const char* command = "jwt-credential-process") {
    auto args = jwt;
    args.front() = command;
    args.insert(args.end(), extra.begin(), extra.end());
    return parse(args);
  };
  auto o = with({"--region", "eu-west-1"});
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(o.plan->command == "jwt-credential-process");
  CHECK(o.plan->mode == app::Mode::once);
  CHECK(std::holds_alternative<app::ToStdout>(o.plan->output));
  CHECK(sts(o).audience == "sts.amazonaws.com");
  CHECK(o.plan->endpoint.host == "sts.eu-west-1.amazonaws.com");
  CHECK(o.plan->endpoint.tls);
  CHECK_FALSE(sts(o).params.role_arn.has_value());
  CHECK_FALSE(sts(o).params.role_session_name.has_value());
  CHECK(sts(o).params.duration_seconds == 3600);

  o = with({"--region", "cn-north-1"});
  REQUIRE(o.plan.has_value());
  CHECK(o.plan->endpoint.host == "sts.cn-north-1.amazonaws.com.cn");

  o = with({"--endpoint", "https://minio.example.com:9000", "--role-arn", kRole,
            "--role-session-name", "s1", "--session-duration", "900", "--hint", "h", "--spiffe-id",
            "spiffe://example.org/w"});
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(o.plan->endpoint.host == "minio.example.com");
  CHECK(o.plan->endpoint.port == "9000");
  CHECK(sts(o).params.role_arn == kRole);
  CHECK(sts(o).params.role_session_name == "s1");
  CHECK(sts(o).params.duration_seconds == 900);
  CHECK(o.plan->selector.hint == "h");

  for (const char* command : {"jwt-credential-file", "jwt-credential-file-oneshot"}) {
    CAPTURE(command);
    o = with(
        {"--region", "us-east-1", "--aws-credentials-path", "/x/credentials", "--profile", "p"},
        command);
    REQUIRE_MESSAGE(o.plan.has_value(), o.err);
    CHECK(std::holds_alternative<app::Sts>(o.plan->exchange));
    CHECK(o.plan->mode ==
          (std::string(command) == "jwt-credential-file" ? app::Mode::daemon : app::Mode::once));
    CHECK(file(o).path == "/x/credentials");
    CHECK(file(o).profile == "p");
    check_usage_error(with({"--region", "us-east-1"}, command),
                      "--aws-credentials-path is required");
  }

  check_usage_error(parse({"jwt-credential-process", "--region", "us-east-1"}),
                    "--audience is required");
  check_usage_error(with({}), "no STS endpoint");
  check_usage_error(with({"--region", "mars-1"}), "--region");
  check_usage_error(with({"--region", "us-east-1", "--role-arn", "role"}), "--role-arn");
  check_usage_error(with({"--region", "us-east-1", "--session-duration", "60"}),
                    "--session-duration");
  check_usage_error(with({"--region", "us-east-1", "--role-session-name", "x"}),
                    "--role-session-name");
  check_usage_error(with({"--endpoint", "http://sts.example.com"}), "loopback");
  check_usage_error(with({"--region", "us-east-1", "--audience", ""}), "--audience");
  // Roles Anywhere flags are not JWT flags.
  check_usage_error(with({"--region", "us-east-1", "--trust-anchor-arn", kTa}),
                    "--trust-anchor-arn");
}

TEST_CASE("the serve commands: binds, the token file, loopback unless --allow-remote") {
  auto serve = [](std::vector<std::string> extra, const char* command = "x509-serve") {
    auto args = base(extra);
    args.front() = command;
    return parse(args);
  };
  auto o = serve({"--token-file", "/run/awh/token"});
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(o.plan->mode == app::Mode::daemon);
  const auto& server = std::get<app::ToServer>(o.plan->output);
  CHECK(server.token_file == "/run/awh/token");
  CHECK(server.default_binds);
  REQUIRE(server.binds.size() == 2);
  CHECK(server.binds[0].ip == "127.0.0.1");
  CHECK(server.binds[0].port == 9911);
  CHECK(server.binds[1].ip == "::1");
  CHECK(server.binds[1].port == 9911);
  CHECK(server.account_id == "123456789012");
  CHECK_FALSE(server.listen_before_ready);

  o = serve({"--token-file", "t", "--bind", "127.0.0.2:8080", "--bind", "[::1]:0",
             "--listen-before-ready"});
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  const auto& two = std::get<app::ToServer>(o.plan->output);
  CHECK_FALSE(two.default_binds);
  REQUIRE(two.binds.size() == 2);  // repeatable: every --bind is kept
  CHECK(two.binds[0].ip == "127.0.0.2");
  CHECK(two.binds[0].port == 8080);
  CHECK(two.binds[1].ip == "::1");
  CHECK(two.binds[1].port == 0);
  CHECK(two.listen_before_ready);

  o = serve({"--token-file", "t", "--bind", "0.0.0.0:9911", "--allow-remote"});
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(std::get<app::ToServer>(o.plan->output).binds.at(0).ip == "0.0.0.0");

  // The IMDS routes: the role name and region from the ARNs, IMDSv1 and the hop limit.
  CHECK(server.role_name == "r");
  CHECK(server.region == "us-east-1");
  CHECK_FALSE(server.imdsv1);
  CHECK(server.hop_limit == 1);
  o = serve({"--token-file", "t", "--imdsv1", "--hop-limit", "3"});
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(std::get<app::ToServer>(o.plan->output).imdsv1);
  CHECK(std::get<app::ToServer>(o.plan->output).hop_limit == 3);
  check_usage_error(serve({"--token-file", "t", "--hop-limit", "0"}),
                    "--hop-limit: 0 is out of range");
  check_usage_error(serve({"--token-file", "t", "--hop-limit", "256"}), "1..255");
  check_usage_error(serve({"--token-file", "t", "--hop-limit", "x"}), "not a whole number");

  check_usage_error(serve({}), "--token-file is required");
  check_usage_error(serve({"--token-file", ""}), "--token-file");
  check_usage_error(serve({"--token-file", "/run/"}), "names a directory");
  check_usage_error(serve({"--token-file", "t", "--bind", "0.0.0.0:9911"}),
                    "not a loopback address");
  check_usage_error(serve({"--token-file", "t", "--bind", "[2001:db8::1]:9911"}), "--allow-remote");
  check_usage_error(serve({"--token-file", "t", "--bind", "localhost:9911"}),
                    "host names are not resolved");
  check_usage_error(serve({"--token-file", "t", "--bind", "127.0.0.1"}), "no port");
  check_usage_error(serve({"--token-file", "t", "--bind", "127.0.0.1:65536"}), "no valid port");
  check_usage_error(serve({"--token-file", "t", "--bind", "127.0.0.1:x"}), "no valid port");
  check_usage_error(serve({"--token-file", "t", "--bind", "::1:9911"}), "without brackets");
  check_usage_error(serve({"--token-file", "t", "--bind", "[::1]9911"}), "[IPv6]:PORT");
  // The file flags are not serve flags, and the serve flags are not the file commands'.
  check_usage_error(serve({"--token-file", "t", "--aws-credentials-path", "/x"}),
                    "--aws-credentials-path");
  auto file_args = base({"--aws-credentials-path", "/x", "--token-file", "t"});
  file_args.front() = "x509-credential-file";
  check_usage_error(parse(file_args), "--token-file");

  // jwt-serve: the account only when a role is named.
  std::vector<std::string> jwt{
      "jwt-serve", "--audience",          "sts.amazonaws.com",      "--region",
      "us-east-1", "--workload-api-addr", "unix:///tmp/agent.sock", "--token-file",
      "t"};
  o = parse(jwt);
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK_FALSE(std::get<app::ToServer>(o.plan->output).account_id.has_value());
  jwt.insert(jwt.end(), {"--role-arn", "arn:aws:iam::210987654321:role/r"});
  o = parse(jwt);
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(std::get<app::ToServer>(o.plan->output).account_id == "210987654321");
}

TEST_CASE("--cache on the credential_process commands: the directory and its default") {
  auto o = parse(base({"--cache"}), {{"XDG_RUNTIME_DIR", "/run/user/1000"}});
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(o.plan->cache_dir == "/run/user/1000/aws-spiffe-workload-helper");
  o = parse(base({"--cache"}));
  REQUIRE(o.plan.has_value());
  CHECK(o.plan->cache_dir ==
        "/tmp/aws-spiffe-workload-helper-" + std::to_string(static_cast<unsigned>(geteuid())));
  o = parse(base({"--cache", "--cache-dir", "/var/cache/x"}));
  REQUIRE(o.plan.has_value());
  CHECK(o.plan->cache_dir == "/var/cache/x");
  o = parse(base());
  REQUIRE(o.plan.has_value());
  CHECK_FALSE(o.plan->cache_dir.has_value());

  o = parse({"jwt-credential-process", "--audience", "a", "--region", "us-east-1",
             "--workload-api-addr", "unix:///tmp/agent.sock", "--cache"});
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(o.plan->cache_dir.has_value());

  check_usage_error(parse(base({"--cache-dir", "/x"})),
                    "--cache-dir: it only applies with --cache");
  check_usage_error(parse(base({"--cache", "--dry-run"})), "exclude each other");
  // Only the credential_process commands cache.
  auto oneshot = base({"--aws-credentials-path", "/x/c", "--cache"});
  oneshot.front() = "x509-credential-file-oneshot";
  check_usage_error(parse(oneshot), "--cache");
}

TEST_CASE("--dry-run on the one-shot commands only") {
  auto o = parse(base({"--dry-run"}));
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(o.plan->dry_run);
  CHECK_FALSE(parse(base()).plan->dry_run);
  auto oneshot = base({"--aws-credentials-path", "/x/c", "--dry-run"});
  oneshot.front() = "x509-credential-file-oneshot";
  o = parse(oneshot);
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(o.plan->dry_run);
  auto daemon = oneshot;
  daemon.front() = "x509-credential-file";
  check_usage_error(parse(daemon), "--dry-run");
}

TEST_CASE("whoami: x509-whoami (alias whoami) and jwt-whoami; where GetCallerIdentity goes") {
  auto x509 = base();
  for (const char* name : {"whoami", "x509-whoami"}) {
    CAPTURE(name);
    x509.front() = name;
    auto o = parse(x509);
    REQUIRE_MESSAGE(o.plan.has_value(), o.err);
    CHECK(o.plan->command == "x509-whoami");
    CHECK(o.plan->mode == app::Mode::once);
    const auto& who = std::get<app::ToWhoami>(o.plan->output);
    CHECK(who.sts_endpoint.host == "sts.us-east-1.amazonaws.com");
    CHECK(who.sts_region == "us-east-1");
    CHECK_FALSE(who.json);
  }
  auto o = parse(base({"--sts-endpoint", "http://127.0.0.1:5000", "--format", "json"}));
  REQUIRE(!o.plan.has_value());  // x509-credential-process has no --sts-endpoint
  x509 = base({"--sts-endpoint", "http://127.0.0.1:5000", "--format", "json"});
  x509.front() = "whoami";
  o = parse(x509);
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(std::get<app::ToWhoami>(o.plan->output).sts_endpoint.port == "5000");
  CHECK(std::get<app::ToWhoami>(o.plan->output).json);
  x509 = base();
  x509.front() = "whoami";
  o = parse(x509, {{"AWS_ENDPOINT_URL_STS", "http://127.0.0.1:5001"}});
  REQUIRE(o.plan.has_value());
  CHECK(std::get<app::ToWhoami>(o.plan->output).sts_endpoint.port == "5001");
  check_usage_error(parse(x509, {{"AWS_ENDPOINT_URL_STS", "ftp://x"}}), "AWS_ENDPOINT_URL_STS");
  x509.insert(x509.end(), {"--format", "yaml"});
  check_usage_error(parse(x509), "--format");

  // JWT: GetCallerIdentity goes to the exchange's own STS unless told otherwise.
  o = parse({"jwt-whoami", "--audience", "a", "--endpoint", "http://127.0.0.1:5002",
             "--workload-api-addr", "unix:///tmp/agent.sock"});
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(std::get<app::ToWhoami>(o.plan->output).sts_endpoint.port == "5002");
  CHECK(std::get<app::ToWhoami>(o.plan->output).sts_region == "us-east-1");
}

TEST_CASE("--exit-code-compat go: usage errors exit 1, like the Go tool") {
  auto o = parse(base({"--exit-code-compat", "go", "--session-duration", "1"}));
  CHECK(o.exit_code == 1);
  CHECK(o.err.find("--session-duration") != std::string::npos);
  o = parse({"x509-credential-process", "--exit-code-compat=go"});
  CHECK(o.exit_code == 1);
  o = parse({"nope", "--exit-code-compat", "go"});
  CHECK(o.exit_code == 1);
  check_usage_error(parse(base({"--session-duration", "1"})), "--session-duration");
  check_usage_error(parse(base({"--exit-code-compat", "rust"})), "--exit-code-compat");
  o = parse(base({"--exit-code-compat", "go"}));
  CHECK(o.plan.has_value());
}

TEST_CASE("every flag value has a length limit, checked before anything else") {
  const std::string arn_tail(2100, 'a');
  for (const auto& [flag, max] :
       std::vector<std::pair<std::string, std::size_t>>{{"--trust-anchor-arn", 2048},
                                                        {"--role-arn", 2048},
                                                        {"--role-session-name", 64},
                                                        {"--hint", 256},
                                                        {"--spiffe-id", 2048},
                                                        {"--ca-bundle", 4096},
                                                        {"--workload-api-addr", 4096},
                                                        {"--endpoint", 2048},
                                                        {"--region", 64},
                                                        {"--timeout", 16}}) {
    CAPTURE(flag);
    const std::string value(max + 1, 'a');
    const auto o = parse(base({flag, value}));
    check_usage_error(o, flag + ": the value is " + std::to_string(max + 1) +
                             " bytes long; at most " + std::to_string(max));
    CHECK(o.err.size() < 300);  // the value itself is not echoed
  }
  // At the limit, the flag's own check decides (here: a valid hint).
  CHECK(parse(base({"--hint", std::string(256, 'h')})).plan.has_value());
  check_usage_error(
      parse({"x509-credential-file-oneshot", "--trust-anchor-arn", kTa, "--profile-arn", kProfile,
             "--role-arn", kRole, "--workload-api-addr", "unix:///tmp/a.sock",
             "--aws-credentials-path", "/" + std::string(5000, 'p')}),
      "--aws-credentials-path: the value is 5001 bytes long; at most 4096");
  check_usage_error(parse({"jwt-credential-process", "--audience", std::string(1025, 'x'),
                           "--region", "us-east-1", "--workload-api-addr", "unix:///tmp/a.sock"}),
                    "--audience: the value is 1025 bytes long");
  // Values from the environment too.
  std::vector<std::string> no_addr = base();
  no_addr.resize(no_addr.size() - 2);
  check_usage_error(
      parse(no_addr, {{"SPIFFE_ENDPOINT_SOCKET", "unix:///" + std::string(5000, 's')}}),
      "SPIFFE_ENDPOINT_SOCKET: the value is");
  check_usage_error(parse(base(), {{"AWS_CA_BUNDLE", std::string(5000, 'c')}}),
                    "AWS_CA_BUNDLE: the value is 5000 bytes long");
  check_usage_error(parse(base({"--proxy", "http://" + std::string(3000, 'p')})),
                    "--proxy: the value is 3007 bytes long");
  check_usage_error(parse(base(), {{"HTTPS_PROXY", "http://" + std::string(3000, 'p')}}),
                    "HTTPS_PROXY: the value is 3007 bytes long");
}

TEST_CASE("control characters in arguments are escaped in errors; the error stays one line") {
  const auto o = parse(base({"--region", "us\x1b[31m\r\nevil"}));
  check_usage_error(o, "--region");
  CHECK(o.err.find('\x1b') == std::string::npos);
  CHECK(o.err.find('\r') == std::string::npos);
  CHECK(o.err.find("\\x1b[31m") != std::string::npos);
  const auto cmd = parse({"x509\x1b]0;pwned\x07", "--help"});
  check_usage_error(cmd, "unknown command");
  CHECK(cmd.err.find('\x07') == std::string::npos);
  const auto cli11 = parse(base({"--log-level", "loud\nINFO forged line"}));
  check_usage_error(cli11, "--log-level");
  CHECK(cli11.err.find("\\nINFO forged line") != std::string::npos);
}

TEST_CASE("a unix socket path longer than sun_path and a host name over 253 are usage errors") {
  const std::string dir = "/" + std::string(99, 'd') + "/";
  CHECK(parse(base({"--workload-api-addr", "unix://" + dir + "a.sock"})).plan.has_value());  // 107
  check_usage_error(parse(base({"--workload-api-addr", "unix://" + dir + "ab.sock"})),
                    "the socket path is 108 bytes long; a unix socket path has at most 107");
  const std::string label(63, 'h');
  const std::string host = label + "." + label + "." + label + "." + label;  // 255
  check_usage_error(parse(base({"--endpoint", "https://" + host})), "longer than 253");
  CHECK(parse(base({"--endpoint", "https://" + host.substr(2)})).plan.has_value());
}

TEST_CASE("--min-renew-interval: the daemons' spacing of triggered exchanges") {
  const auto daemon = [](std::vector<std::string> extra) {
    auto a = base({"--aws-credentials-path", "/tmp/credentials"});
    a.front() = "x509-credential-file";
    a.insert(a.end(), extra.begin(), extra.end());
    return parse(a);
  };
  CHECK(daemon({}).plan->min_renew_interval == std::chrono::seconds(5));
  CHECK(daemon({"--min-renew-interval", "0"}).plan->min_renew_interval == std::chrono::seconds(0));
  CHECK(daemon({"--min-renew-interval", "30"}).plan->min_renew_interval ==
        std::chrono::seconds(30));
  check_usage_error(daemon({"--min-renew-interval", "3601"}), "--min-renew-interval");
  check_usage_error(daemon({"--min-renew-interval", "5s"}), "--min-renew-interval");
  check_usage_error(parse(base({"--min-renew-interval", "5"})), "--min-renew-interval");
}

TEST_CASE("FIPS and dual-stack endpoints; the signing region stays plain") {
  auto fips = parse(base({"--use-fips-endpoint"}));
  REQUIRE_MESSAGE(fips.plan.has_value(), fips.err);
  CHECK(fips.plan->endpoint.host == "rolesanywhere-fips.us-east-1.amazonaws.com");

  // A FIPS pseudo-region turns FIPS on; the scope gets the plain region (AWS's helper put the
  // pseudo-region there and broke the signature).
  auto pseudo = parse(base({"--region", "us-east-1-fips"}));
  REQUIRE_MESSAGE(pseudo.plan.has_value(), pseudo.err);
  CHECK(ra(pseudo).session.region == "us-east-1");
  CHECK(pseudo.plan->endpoint.host == "rolesanywhere-fips.us-east-1.amazonaws.com");

  auto env =
      parse(base(), {{"AWS_USE_FIPS_ENDPOINT", "true"}, {"AWS_USE_DUALSTACK_ENDPOINT", "TRUE"}});
  REQUIRE_MESSAGE(env.plan.has_value(), env.err);
  CHECK(env.plan->endpoint.host == "rolesanywhere-fips.us-east-1.api.aws");

  auto dual =
      parse({"jwt-credential-process", "--audience", "sts.amazonaws.com", "--region",
             "us-gov-east-1", "--use-dualstack-endpoint", "--workload-api-addr", "unix:///s"});
  REQUIRE_MESSAGE(dual.plan.has_value(), dual.err);
  CHECK(dual.plan->endpoint.host == "sts.us-gov-east-1.api.aws");

  check_usage_error(parse(base(), {{"AWS_USE_FIPS_ENDPOINT", "sure"}}), "AWS_USE_FIPS_ENDPOINT");
  check_usage_error(parse(base({"--use-fips-endpoint", "--endpoint", "https://ra.example"})),
                    "--endpoint sets a custom endpoint");
}

TEST_CASE("endpoint variables: below --endpoint, above the default") {
  auto ra_var = parse(base(), {{"AWS_ENDPOINT_URL_ROLESANYWHERE", "https://ra.internal:8443"},
                               {"AWS_ENDPOINT_URL", "https://all.internal"}});
  REQUIRE_MESSAGE(ra_var.plan.has_value(), ra_var.err);
  CHECK(ra_var.plan->endpoint.host == "ra.internal");
  CHECK(ra_var.plan->endpoint_source == "AWS_ENDPOINT_URL_ROLESANYWHERE");
  auto flag = parse(base({"--endpoint", "https://flag.internal"}),
                    {{"AWS_ENDPOINT_URL_ROLESANYWHERE", "https://ra.internal:8443"}});
  CHECK(flag.plan->endpoint.host == "flag.internal");
  auto jwt =
      parse({"jwt-credential-process", "--audience", "a", "--workload-api-addr", "unix:///s"},
            {{"AWS_ENDPOINT_URL_STS", "https://sts.internal"},
             {"AWS_ENDPOINT_URL_ROLESANYWHERE", "https://ra.internal"}});
  REQUIRE_MESSAGE(jwt.plan.has_value(), jwt.err);
  CHECK(jwt.plan->endpoint.host == "sts.internal");
  check_usage_error(parse(base(), {{"AWS_ENDPOINT_URL", "ftp://x"}}), "AWS_ENDPOINT_URL: ");
}

TEST_CASE("STS takes its region from AWS_REGION / AWS_DEFAULT_REGION like the SDKs") {
  const std::vector<std::string> jwt{"jwt-credential-process", "--audience", "a",
                                     "--workload-api-addr", "unix:///s"};
  auto o = parse(jwt, {{"AWS_DEFAULT_REGION", "eu-west-3"}});
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  CHECK(o.plan->endpoint.host == "sts.eu-west-3.amazonaws.com");
  o = parse(jwt, {{"AWS_REGION", "ap-south-2"}, {"AWS_DEFAULT_REGION", "eu-west-3"}});
  CHECK(o.plan->endpoint.host == "sts.ap-south-2.amazonaws.com");
  check_usage_error(parse(jwt, {{"AWS_REGION", "nowhere"}}), "AWS_REGION: 'nowhere'");
}

TEST_CASE("every partition; a region outside the ARNs' partition is refused") {
  auto iso = parse(
      {"x509-credential-process", "--trust-anchor-arn",
       "arn:aws-iso-b:rolesanywhere:us-isob-east-1:123456789012:trust-anchor/ta", "--profile-arn",
       "arn:aws-iso-b:rolesanywhere:us-isob-east-1:123456789012:profile/p", "--role-arn",
       "arn:aws-iso-b:iam::123456789012:role/r", "--workload-api-addr", "unix:///s"});
  REQUIRE_MESSAGE(iso.plan.has_value(), iso.err);
  CHECK(iso.plan->endpoint.host == "rolesanywhere.us-isob-east-1.sc2s.sgov.gov");

  check_usage_error(
      parse({"x509-credential-process", "--trust-anchor-arn",
             "arn:aws-cn:rolesanywhere:us-east-1:123456789012:trust-anchor/ta", "--profile-arn",
             "arn:aws-cn:rolesanywhere:us-east-1:123456789012:profile/p", "--role-arn",
             "arn:aws-cn:iam::123456789012:role/r", "--workload-api-addr", "unix:///s"}),
      "the trust anchor's region us-east-1 is in the aws partition, but --trust-anchor-arn is in "
      "aws-cn");
  check_usage_error(parse({"jwt-credential-process", "--audience", "a", "--region", "cn-north-1",
                           "--role-arn", kRole, "--workload-api-addr", "unix:///s"}),
                    "--region cn-north-1 is in the aws-cn partition, but --role-arn is in aws");
}

TEST_CASE("the proxy: --proxy, HTTPS_PROXY, NO_PROXY, --no-proxy") {
  auto none = parse(base());
  CHECK_FALSE(none.plan->proxy.https.has_value());

  auto env = parse(base(), {{"HTTPS_PROXY", "http://upper:3128"},
                            {"https_proxy", "http://lower:3128"},
                            {"NO_PROXY", ".internal,10.0.0.0/8"}});
  REQUIRE_MESSAGE(env.plan.has_value(), env.err);
  REQUIRE(env.plan->proxy.https.has_value());
  CHECK(env.plan->proxy.https->host == "lower");  // lower case first, as the SDKs read it
  CHECK(env.plan->proxy.https->source == "https_proxy");
  CHECK(env.plan->proxy.no_proxy.size() == 2);

  auto flag = parse(base({"--proxy", "http://u:p@flag:8080"}), {{"HTTPS_PROXY", "http://env:1"}});
  REQUIRE_MESSAGE(flag.plan.has_value(), flag.err);
  CHECK(flag.plan->proxy.https->host == "flag");
  CHECK(flag.plan->proxy.https->user == "u");

  auto off = parse(base({"--no-proxy"}), {{"HTTPS_PROXY", "http://env:1"}});
  REQUIRE_MESSAGE(off.plan.has_value(), off.err);
  CHECK_FALSE(off.plan->proxy.https.has_value());

  check_usage_error(parse(base({"--no-proxy", "--proxy", "http://p:1"})),
                    "--proxy and --no-proxy can't be used together");
  auto bad = parse(base({"--proxy", "http://u:topsecret@p:notaport"}));
  check_usage_error(bad, "--proxy: not a usable proxy URL: invalid port");
  CHECK(bad.err.find("topsecret") == std::string::npos);
}
