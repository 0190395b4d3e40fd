// --config FILE: the YAML file of several exchanges, read through the command line as the
// daemons read it. Every bad file is a usage error naming the file, the line and the key.
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
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
  SUBCASE("a directory, a FIFO and a file over 1 MiB are refused without hanging") {
    char dir_template[] = "/tmp/awh-config-XXXXXX";
    REQUIRE(mkdtemp(dir_template) != nullptr);
    const std::string dir = dir_template;
    auto o = parse({"x509-credential-file", "--config", dir});
    CHECK(o.exit_code == 2);
    CHECK(o.err.find("--config: cannot read " + dir + ": Is a directory") != std::string::npos);
    const std::string fifo = dir + "/fifo";
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    o = parse({"x509-credential-file", "--config", fifo});
    CHECK(o.exit_code == 2);
    CHECK(o.err.find("--config: ") != std::string::npos);
    CHECK(o.err.find(fifo) != std::string::npos);
    const std::string big = dir + "/big.yaml";
    {
      std::string text = "# " + std::string((1u << 20) + 10, 'x') + "\n";
      FILE* f = std::fopen(big.c_str(), "w");
      REQUIRE(f != nullptr);
      std::fwrite(text.data(), 1, text.size(), f);
      std::fclose(f);
    }
    o = parse({"x509-credential-file", "--config", big});
    CHECK(o.exit_code == 2);
    CHECK(o.err.find("--config: cannot read " + big + ": larger than 1048576 bytes") !=
          std::string::npos);
    std::remove(big.c_str());
    std::remove(fifo.c_str());
    rmdir(dir.c_str());
  }
}

namespace {

// An X.509-SVID exchange's keys (role `role`), indented for the exchanges list, plus `extra`.
std::string x509_keys(const std::string& role, const std::string& extra = {}) {
  return "    trust-anchor-arn: " + kTa + "\n    profile-arn: " + kProfileArn +
         "\n    role-arn: arn:aws:iam::123456789012:role/" + role + "\n" + extra;
}

const std::string kServed =
    "workload-api-addr: unix:///run/spire/agent.sock\n"
    "aws-credentials-path: /var/run/aws/credentials\n"
    "serve:\n"
    "  token-file: /run/aws/token\n"
    "  bind:\n"
    "    - 127.0.0.1:9912\n"
    "    - '[::1]:9912'\n"
    "  hop-limit: 2\n"
    "  listen-before-ready: true\n"
    "exchanges:\n"
    "  - path: /roles/reader\n" +
    x509_keys("reader") +
    "  - path: /roles/writer\n"
    "    profile: writer\n" +
    x509_keys("writer") + "  - profile: other\n" + x509_keys("other");

}  // namespace

TEST_CASE(
    "a serve block: one endpoint; each exchange at its path, beside or instead of a profile") {
  ConfigFile f(kServed);
  for (const char* command : {"x509-credential-file", "x509-serve", "jwt-serve"}) {
    CAPTURE(command);
    const auto o = parse_file(f, {}, command);
    REQUIRE_MESSAGE(o.plan.has_value(), o.err);
    const auto& plan = *o.plan;
    REQUIRE(plan.serve.has_value());
    CHECK(plan.serve->token_file == "/run/aws/token");
    REQUIRE(plan.serve->binds.size() == 2);
    CHECK(plan.serve->binds[0].ip == "127.0.0.1");
    CHECK(plan.serve->binds[1].ip == "::1");
    CHECK(plan.serve->binds[1].port == 9912);
    CHECK(plan.serve->hop_limit == 2);
    CHECK(plan.serve->listen_before_ready);
    REQUIRE(plan.exchanges.size() == 3);
    // Served only: the endpoint is its output.
    REQUIRE(plan.exchanges[0].served.has_value());
    CHECK(plan.exchanges[0].served->path == "/roles/reader");
    CHECK(plan.exchanges[0].served->account_id == "123456789012");
    CHECK(std::holds_alternative<app::ToServer>(plan.exchanges[0].output));
    // Both outputs.
    CHECK(plan.exchanges[1].served->path == "/roles/writer");
    CHECK(std::get<app::ToFile>(plan.exchanges[1].output).target.profile == "writer");
    // A profile only.
    CHECK_FALSE(plan.exchanges[2].served.has_value());
    CHECK(std::get<app::ToFile>(plan.exchanges[2].output).target.profile == "other");
  }
}

TEST_CASE("the daemon flags are keys, meaning what the flags mean") {
  const std::string addr = "unix:///run/spire/agent.sock";
  const std::vector<std::string> x509_flags{"--trust-anchor-arn",
                                            kTa,
                                            "--profile-arn",
                                            kProfileArn,
                                            "--role-arn",
                                            "arn:aws:iam::123456789012:role/r",
                                            "--workload-api-addr",
                                            addr,
                                            "--aws-credentials-path",
                                            "/c"};
  const auto by_flags = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"x509-credential-file"};
    args.insert(args.end(), x509_flags.begin(), x509_flags.end());
    args.insert(args.end(), extra.begin(), extra.end());
    const auto o = parse(args);
    REQUIRE_MESSAGE(o.plan.has_value(), o.err);
    return *o.plan;
  };
  SUBCASE("the whole daemon: health-addr, timeout, proxy, log-level") {
    ConfigFile f("workload-api-addr: " + addr +
                 "\nhealth-addr: 0.0.0.0:8081\ntimeout: 7\nproxy: http://proxy.internal:3128\n"
                 "log-level: warn\nlog-format: json\naws-credentials-path: /c\nexchanges:\n"
                 "  - profile: a\n" +
                 x509_keys("r"));
    const auto o = parse_file(f);
    REQUIRE_MESSAGE(o.plan.has_value(), o.err);
    const auto flags = by_flags({"--health-addr", "0.0.0.0:8081", "--timeout", "7", "--proxy",
                                 "http://proxy.internal:3128"});
    REQUIRE(o.plan->health.has_value());
    CHECK(o.plan->health->ip == flags.health->ip);
    CHECK(o.plan->health->port == 8081);
    CHECK(o.plan->timeout == flags.timeout);
    REQUIRE(o.plan->proxy.https.has_value());
    CHECK(o.plan->proxy.https->host == flags.proxy.https->host);
    CHECK(o.plan->log_level == log::Level::warn);
    CHECK(o.plan->log_format == log::Format::json);
    // The command line's logging flags win over the file's.
    CHECK(parse_file(f, {"--debug"}).plan->log_level == log::Level::debug);
    CHECK(parse_file(f, {"--log-level", "error"}).plan->log_level == log::Level::error);
  }
  SUBCASE("no-proxy: true ignores HTTPS_PROXY") {
    ConfigFile f("workload-api-addr: " + addr + "\nno-proxy: true\naws-credentials-path: /c\n" +
                 "exchanges:\n  - profile: a\n" + x509_keys("r"));
    const auto env = [](const char* name) -> std::optional<std::string> {
      if (std::string_view(name) == "HTTPS_PROXY") return "http://proxy.internal:3128";
      return std::nullopt;
    };
    const auto with_env = app::parse_cli({"x509-credential-file", "--config", f.path()}, env);
    REQUIRE_MESSAGE(with_env.plan.has_value(), with_env.err);
    CHECK_FALSE(with_env.plan->proxy.https.has_value());
    ConfigFile g("workload-api-addr: " + addr + "\naws-credentials-path: /c\n" +
                 "exchanges:\n  - profile: a\n" + x509_keys("r"));
    const auto without = app::parse_cli({"x509-credential-file", "--config", g.path()}, env);
    REQUIRE_MESSAGE(without.plan.has_value(), without.err);
    CHECK(without.plan->proxy.https.has_value());
  }
  SUBCASE("per exchange: FIPS, dual-stack, region; top-level defaults, overridden") {
    ConfigFile f("workload-api-addr: " + addr +
                 "\naws-credentials-path: /c\nuse-dualstack-endpoint: true\n"
                 "min-renew-interval: 30\nsession-duration: 1800\nexchanges:\n"
                 "  - profile: fips\n    use-fips-endpoint: true\n" +
                 x509_keys("r") + "  - profile: plain\n    use-dualstack-endpoint: false\n" +
                 "    min-renew-interval: 0\n" + x509_keys("r"));
    const auto o = parse_file(f);
    REQUIRE_MESSAGE(o.plan.has_value(), o.err);
    const auto fips = by_flags({"--use-fips-endpoint", "--use-dualstack-endpoint"});
    const auto plain = by_flags({});
    CHECK(o.plan->exchanges[0].endpoint.host == fips.endpoint.host);
    CHECK(o.plan->exchanges[0].endpoint.host != plain.endpoint.host);
    CHECK(o.plan->exchanges[1].endpoint.host == plain.endpoint.host);
    CHECK(o.plan->exchanges[0].min_renew_interval == std::chrono::seconds(30));
    CHECK(o.plan->exchanges[1].min_renew_interval == std::chrono::seconds(0));
    CHECK(std::get<app::RolesAnywhere>(o.plan->exchanges[1].exchange).session.duration_seconds ==
          1800);
  }
  SUBCASE("the file's force and replace") {
    ConfigFile f(
        "workload-api-addr: " + addr +
        "\naws-credentials-path: /c\nforce: true\nexchanges:\n  - profile: a\n" + x509_keys("r") +
        "  - profile: b\n    aws-credentials-path: /d\n    replace: true\n" + x509_keys("r"));
    const auto o = parse_file(f);
    REQUIRE_MESSAGE(o.plan.has_value(), o.err);
    const auto& a = std::get<app::ToFile>(o.plan->exchanges[0].output).target;
    const auto& b = std::get<app::ToFile>(o.plan->exchanges[1].output).target;
    CHECK(a.force);
    CHECK_FALSE(a.replace);
    CHECK(b.force);
    CHECK(b.replace);
  }
  SUBCASE("debugging flags stay on the command line, and may come with --config") {
    ConfigFile f(kGood);
    const auto o = parse_file(f, {"--allow-core-dumps", "--exit-code-compat", "go"});
    REQUIRE_MESSAGE(o.plan.has_value(), o.err);
    CHECK(o.plan->allow_core_dumps);
    ConfigFile g("allow-core-dumps: true\n" + kGood);
    check_config_error(parse_file(g), g, 1, "unknown key 'allow-core-dumps'");
  }
}

TEST_CASE("bad serve blocks and paths: the file, the line and the key") {
  const auto served = [](const std::string& serve_block, const std::string& exchanges) {
    return "workload-api-addr: unix:///a\naws-credentials-path: /c\n" + serve_block +
           "exchanges:\n" + exchanges;
  };
  const std::string serve = "serve:\n  token-file: /t\n";  // lines 3-4
  SUBCASE("a path without a serve block") {
    ConfigFile f(served("", "  - path: /roles/a\n" + x509_keys("a")));
    check_config_error(parse_file(f), f, 4, "exchanges[0]: path: there is no serve block");
  }
  SUBCASE("the same path twice") {
    ConfigFile f(served(
        serve, "  - path: /roles/a\n" + x509_keys("a") + "  - path: /roles/a\n" + x509_keys("b")));
    check_config_error(parse_file(f), f, 10,
                       "exchanges[1]: path: '/roles/a' is also served by exchanges[0] (line 6)");
  }
  SUBCASE("path syntax") {
    for (const auto& [path, why] : std::vector<std::pair<std::string, std::string>>{
             {"roles/a", "does not start with /"},
             {"/roles//a", "has an empty segment"},
             {"/roles/../a", "has a . or .. segment"},
             {"/roles/a/", "ends with /"},
             {"/roles/a?b", "has the character '?'"},
             {"/readyz", "is one of the endpoint's own routes"},
             {"/latest/meta-data", "is under /latest/, the IMDS routes"}}) {
      CAPTURE(path);
      ConfigFile f(served(serve, "  - path: '" + path + "'\n" + x509_keys("a")));
      check_config_error(parse_file(f), f, 6, "exchanges[0]: path: '" + path + "' " + why);
    }
  }
  SUBCASE("a serve block without token-file, or without any path") {
    ConfigFile f(served("serve:\n  bind: 127.0.0.1:0\n", "  - path: /a\n" + x509_keys("a")));
    check_config_error(parse_file(f), f, 4, "serve: missing token-file");
    ConfigFile g(served(serve, "  - profile: a\n" + x509_keys("a")));
    check_config_error(parse_file(g), g, 4, "serve: no exchange has a path to serve");
  }
  SUBCASE("a serve value, validated as its flag is") {
    ConfigFile f(served("serve:\n  token-file: /t\n  bind: 10.0.0.1:80\n",
                        "  - path: /a\n" + x509_keys("a")));
    check_config_error(parse_file(f), f, 5, "serve: bind: '10.0.0.1:80' is not a loopback address");
    ConfigFile g(
        served("serve:\n  token-file: /t\n  hop-limit: 300\n", "  - path: /a\n" + x509_keys("a")));
    check_config_error(parse_file(g), g, 5, "serve: hop-limit: 300 is out of range");
  }
  SUBCASE("keys out of place") {
    ConfigFile a(
        served("serve:\n  token-file: /t\n  role-arn: x\n", "  - path: /a\n" + x509_keys("a")));
    check_config_error(parse_file(a), a, 5, "serve: role-arn: belongs in an exchange");
    ConfigFile b(served(serve, "  - path: /a\n    token-file: /t\n" + x509_keys("a")));
    check_config_error(parse_file(b), b, 7, "exchanges[0]: token-file: belongs in the serve block");
    ConfigFile c(served(serve, "  - path: /a\n    health-addr: 127.0.0.1:0\n" + x509_keys("a")));
    check_config_error(parse_file(c), c, 7,
                       "exchanges[0]: health-addr: applies to the whole daemon; set it at the top "
                       "level");
    ConfigFile d("role-arn: arn:aws:iam::123456789012:role/r\n" +
                 served(serve, "  - path: /a\n" + x509_keys("a")));
    check_config_error(parse_file(d), d, 1, "role-arn: belongs in an exchange (under exchanges)");
    ConfigFile e(
        served("serve:\n  token-file: /t\n  imdsv1: true\n", "  - path: /a\n" + x509_keys("a")));
    check_config_error(parse_file(e), e, 5, "serve: unknown key 'imdsv1'");
  }
  SUBCASE("true or false, and lists only where a flag repeats") {
    ConfigFile f(served("", "  - profile: a\n    force: yes please\n" + x509_keys("a")));
    check_config_error(parse_file(f), f, 5, "exchanges[0]: force: expected true or false");
    ConfigFile g(served("serve:\n  token-file: [/t, /u]\n", "  - path: /a\n" + x509_keys("a")));
    check_config_error(parse_file(g), g, 4, "serve: token-file: expected a single value");
  }
  SUBCASE("no output; force differing between two profiles of one file") {
    ConfigFile f(served("", "  - region: us-east-1\n" + x509_keys("a")));
    check_config_error(parse_file(f), f, 4, "exchanges[0]: no output: give a profile");
    ConfigFile g(served("", "  - profile: a\n" + x509_keys("a") +
                                "  - profile: b\n    force: true\n" + x509_keys("b")));
    check_config_error(parse_file(g), g, 9,
                       "exchanges[1]: force: differs from exchanges[0], which writes the same "
                       "file /c");
  }
  SUBCASE("a value longer than its flag allows") {
    ConfigFile f(
        served("", "  - profile: a\n    region: " + std::string(100, 'x') + "\n" + x509_keys("a")));
    check_config_error(parse_file(f), f, 5, "exchanges[0]: region: the value is 100 bytes long");
  }
}

TEST_CASE("serve_path_problem: the served path grammar") {
  for (const char* good : {"/a", "/roles/reader", "/v1/credentials", "/A-z_0.9~x/y"}) {
    CAPTURE(good);
    CHECK_FALSE(app::serve_path_problem(good).has_value());
  }
  for (const char* bad : {"", "/", "a", "//a", "/a//b", "/a/", "/./a", "/a/..", "/a b", "/a%20",
                          "/healthz", "/metrics", "/latest", "/latest/x"}) {
    CAPTURE(bad);
    CHECK(app::serve_path_problem(bad).has_value());
  }
  CHECK(app::serve_path_problem("/" + std::string(256, 'a')).has_value());
  CHECK_FALSE(app::serve_path_problem("/" + std::string(255, 'a')).has_value());
}
