// --config FILE: the YAML file of several exchanges, read through the command line as the
// daemons read it. Every bad file is a usage error naming the file, the line and the key.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "app/cli.hpp"
#include "app/config.hpp"

using namespace awh;

namespace {

const std::string kTa = "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/ta";
const std::string kProfileArn = "arn:aws:rolesanywhere:us-east-1:123456789012:profile/p";

// A config file in a fresh temporary directory, removed at the end of the test.
class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text) {
    char dir[] = "/tmp/awh-config-test-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    dir_ = dir;
    path_ = dir_ + "/helper.yaml";
    std::ofstream(path_) << text;
  }
  ~ConfigFile() { std::filesystem::remove_all(dir_); }
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
};

app::CliOutcome parse(std::vector<std::string> args) {
  return app::parse_cli(args, [](const char*) -> std::optional<std::string> { return {}; });
}

app::CliOutcome parse_file(const ConfigFile& f, std::vector<std::string> extra = {},
                           const std::string& command = "x509-credential-file") {
  std::vector<std::string> args{command, "--config", f.path()};
  args.insert(args.end(), extra.begin(), extra.end());
  return parse(args);
}

// A usage error naming `path:line:` and `needle`.
void check_config_error(const app::CliOutcome& o, const ConfigFile& f, int line,
                        const std::string& needle) {
  CAPTURE(o.err);
  CHECK_FALSE(o.plan.has_value());
  CHECK(o.exit_code == 2);
  CHECK(o.err.find(f.path() + ":" + std::to_string(line) + ": ") != std::string::npos);
  CHECK(o.err.find(needle) != std::string::npos);
  CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
}

const std::string kGood = R"(# two roles, two profiles
workload-api-addr: unix:///run/spire/agent.sock
aws-credentials-path: /var/run/aws/credentials
timeout: 20
exchanges:
  - profile: reader
    trust-anchor-arn: )" + kTa +
                          R"(
    profile-arn: )" + kProfileArn +
                          R"(
    role-arn: arn:aws:iam::123456789012:role/reader
    spiffe-id: spiffe://example.org/reader
    session-duration: 900
  - profile: writer
    trust-anchor-arn: )" + kTa +
                          R"(
    profile-arn: )" + kProfileArn +
                          R"(
    role-arn: arn:aws:iam::210987654321:role/writer
    hint: writer
    role-session-name: writer-session
  - profile: minio
    aws-credentials-path: /var/run/minio/credentials
    audience: minio
    endpoint: http://127.0.0.1:9000
)";

}  // namespace

TEST_CASE("a config file gives one complete plan per exchange") {
  ConfigFile f(kGood);
  const auto o = parse_file(f);
  REQUIRE_MESSAGE(o.plan.has_value(), o.err);
  const auto& plan = *o.plan;
  CHECK(plan.mode == app::Mode::daemon);
  CHECK(plan.config_path == f.path());
  CHECK(plan.workload_api_target == "unix:/run/spire/agent.sock");
  CHECK(plan.timeout == std::chrono::seconds(20));
  REQUIRE(plan.exchanges.size() == 3);

  const auto& reader = plan.exchanges[0];
  const auto& ra = std::get<app::RolesAnywhere>(reader.exchange).session;
  CHECK(ra.role_arn == "arn:aws:iam::123456789012:role/reader");
  CHECK(ra.duration_seconds == 900);
  CHECK(ra.region == "us-east-1");
  CHECK(reader.selector.spiffe_id == "spiffe://example.org/reader");
  CHECK_FALSE(reader.selector.hint.has_value());
  CHECK(reader.endpoint.host == "rolesanywhere.us-east-1.amazonaws.com");
  const auto& reader_file = std::get<app::ToFile>(reader.output).target;
  CHECK(reader_file.path == "/var/run/aws/credentials");
  CHECK(reader_file.profile == "reader");
  CHECK(reader.timeout == std::chrono::seconds(20));

  const auto& writer = plan.exchanges[1];
  CHECK(std::get<app::RolesAnywhere>(writer.exchange).session.role_session_name ==
        "writer-session");
  CHECK(std::get<app::RolesAnywhere>(writer.exchange).session.duration_seconds == 3600);
  CHECK(writer.selector.hint == "writer");
  CHECK(std::get<app::ToFile>(writer.output).target.profile == "writer");

  const auto& minio = plan.exchanges[2];
  CHECK(std::get<app::Sts>(minio.exchange).audience == "minio");
  CHECK(minio.endpoint.port == "9000");
  CHECK(std::get<app::ToFile>(minio.output).target.path == "/var/run/minio/credentials");
}

TEST_CASE("logging flags may come with --config; exchange and file flags may not") {
  ConfigFile f(kGood);
  const auto with_logging = parse_file(f, {"--log-level", "debug", "--log-format", "json"});
  REQUIRE_MESSAGE(with_logging.plan.has_value(), with_logging.err);
  CHECK(with_logging.plan->log_level == log::Level::debug);
  CHECK(with_logging.plan->exchanges[1].log_format == log::Format::json);

  const std::vector<std::vector<std::string>> flags = {
      {"--role-arn", "arn:aws:iam::123456789012:role/x"},
      {"--aws-credentials-path", "/tmp/c"},
      {"--profile", "p"},
      {"--hint", "h"},
      {"--health-addr", "127.0.0.1:0"}};
  for (const auto& flag : flags) {
    const auto o = parse_file(f, flag);
    CAPTURE(o.err);
    CHECK(o.exit_code == 2);
    CHECK(o.err.find(flag[0] + " can't be combined with --config") != std::string::npos);
  }
  // Without --config the exchange flags stay required.
  const auto o = parse({"x509-credential-file", "--workload-api-addr", "unix:///tmp/a"});
  CHECK(o.err.find("--trust-anchor-arn is required") != std::string::npos);
}

TEST_CASE("both daemons take --config; the other commands don't") {
  ConfigFile f(kGood);
  CHECK(parse_file(f, {}, "jwt-credential-file").plan.has_value());
  const auto o = parse({"x509-credential-process", "--trust-anchor-arn", kTa, "--profile-arn",
                        kProfileArn, "--role-arn", "arn:aws:iam::123456789012:role/r",
                        "--workload-api-addr", "unix:///tmp/a", "--config", f.path()});
  CHECK(o.exit_code == 2);
  CHECK(o.err.find("--config") != std::string::npos);
}

TEST_CASE("bad config files: the file, the line and the key") {
  SUBCASE("an unknown key") {
    ConfigFile f(
        "aws-credentials-path: /tmp/c\nexchanges:\n  - profile: a\n    audience: x\n"
        "    endpoint: http://127.0.0.1:1\n    rol-arn: arn:aws:iam::1:role/r\n");
    check_config_error(parse_file(f), f, 6, "exchanges[0]: unknown key 'rol-arn'");
  }
  SUBCASE("an unknown top-level key") {
    ConfigFile f("aws-credentials-path: /tmp/c\nregoin: us-east-1\nexchanges: []\n");
    check_config_error(parse_file(f), f, 2, "unknown key 'regoin'");
  }
  SUBCASE("a missing ARN") {
    ConfigFile f(
        "aws-credentials-path: /tmp/c\nexchanges:\n  - profile: a\n"
        "    trust-anchor-arn: " +
        kTa + "\n    profile-arn: " + kProfileArn + "\n");
    check_config_error(parse_file(f), f, 3, "exchanges[0]: missing role-arn");
  }
  SUBCASE("a wrong type: a list where one value belongs") {
    ConfigFile f(
        "aws-credentials-path: /tmp/c\nexchanges:\n  - profile: a\n    audience:\n"
        "      - x\n      - y\n    endpoint: http://127.0.0.1:1\n");
    check_config_error(parse_file(f), f, 5,
                       "exchanges[0]: audience: expected a single value (a string or a number), "
                       "found a list");
  }
  SUBCASE("a wrong type: not a number") {
    ConfigFile f(
        "aws-credentials-path: /tmp/c\nexchanges:\n  - profile: a\n    audience: x\n"
        "    endpoint: http://127.0.0.1:1\n    session-duration: one hour\n");
    check_config_error(parse_file(f), f, 6,
                       "exchanges[0]: session-duration: 'one hour' is not a whole number");
  }
  SUBCASE("exchanges is not a list") {
    ConfigFile f("aws-credentials-path: /tmp/c\nexchanges:\n  profile: a\n");
    check_config_error(parse_file(f), f, 3,
                       "exchanges: expected a non-empty list, found a mapping");
  }
  SUBCASE("both audience and ARNs") {
    ConfigFile f(
        "aws-credentials-path: /tmp/c\nexchanges:\n  - profile: a\n    trust-anchor-arn: " + kTa +
        "\n    profile-arn: " + kProfileArn +
        "\n    role-arn: arn:aws:iam::123456789012:role/r\n    audience: sts\n");
    check_config_error(parse_file(f), f, 7,
                       "exchanges[0]: both audience (a JWT-SVID exchange with STS) and "
                       "trust-anchor-arn");
  }
  SUBCASE("neither") {
    ConfigFile f(
        "aws-credentials-path: /tmp/c\nexchanges:\n  - profile: a\n    role-arn: "
        "arn:aws:iam::123456789012:role/r\n");
    check_config_error(parse_file(f), f, 3, "exchanges[0]: neither trust-anchor-arn");
  }
  SUBCASE("a bad value, validated as its flag is") {
    std::string text = kGood;
    text.replace(text.find("arn:aws:iam::210987654321:role/writer"),
                 std::string("arn:aws:iam::210987654321:role/writer").size(), "not-an-arn");
    ConfigFile g(text);
    check_config_error(parse_file(g), g, 15, "exchanges[1]: role-arn: ");
  }
  SUBCASE("the same profile twice") {
    ConfigFile f(
        "aws-credentials-path: /tmp/c\nexchanges:\n  - profile: a\n    audience: x\n"
        "    endpoint: http://127.0.0.1:1\n  - profile: a\n    audience: y\n"
        "    endpoint: http://127.0.0.1:1\n");
    check_config_error(parse_file(f), f, 6, "exchanges[1]: profile 'a' of /tmp/c is also written");
  }
  SUBCASE("a key given twice") {
    ConfigFile f(
        "aws-credentials-path: /tmp/c\nexchanges:\n  - profile: a\n    audience: x\n"
        "    audience: y\n    endpoint: http://127.0.0.1:1\n");
    check_config_error(parse_file(f), f, 5, "exchanges[0]: audience: given twice (also on line 4)");
  }
  SUBCASE("no credentials file") {
    ConfigFile f("exchanges:\n  - profile: a\n    audience: x\n    endpoint: http://127.0.0.1:1\n");
    check_config_error(parse_file(f), f, 2, "exchanges[0]: missing aws-credentials-path");
  }
  SUBCASE("not YAML") {
    ConfigFile f("exchanges:\n  - profile: [a\n");
    check_config_error(parse_file(f), f, 3, "not valid YAML");
  }
  SUBCASE("a file that isn't there") {
    const auto o = parse({"x509-credential-file", "--config", "/nonexistent/helper.yaml"});
    CHECK(o.exit_code == 2);
    CHECK(o.err.find("--config: cannot read /nonexistent/helper.yaml") != std::string::npos);
  }
}
