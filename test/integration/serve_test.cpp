// End-to-end tests of x509-serve and jwt-serve: the built binary serving credentials that real
// AWS clients fetch through their own container credential provider (botocore, the AWS CLI) and
// use against moto's STS; then the failure cases and hostile clients.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <regex>
#include <thread>

#include "fixture.hpp"
#include "moto.hpp"

using namespace awh;
using namespace awh::itest;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kSubject = "spiffe://example.org/served";
const std::string kJwtRole = "arn:aws:iam::123456789012:role/served-role";

// A running *-serve: its two environment lines, its port and its token.
struct Served {
  Served(const std::vector<std::string>& argv, const std::string& log_path)
      : log_path(log_path), child(argv, {}, log_path) {
    const auto lines = read_env_lines(child, 2);
    REQUIRE_MESSAGE(lines.size() == 2, log());
    for (const auto& [name, value] : lines) env[name] = value;
    std::smatch m;
    const std::string uri = env.at("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    REQUIRE(std::regex_match(uri, m, std::regex(R"(http://127\.0\.0\.1:([0-9]+)/v1/credentials)")));
    port = std::stoi(m[1]);
    token = read_file(env.at("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"));
  }
  std::string log() const { return std::filesystem::exists(log_path) ? read_file(log_path) : ""; }
  HttpAnswer get(const std::string& path, const std::optional<std::string>& auth) const {
    return http_get(port, path, auth ? "Authorization: " + *auth + "\r\n" : "");
  }

  std::string log_path;
  Child child;
  std::map<std::string, std::string> env;
  int port = 0;
  std::string token;
};

std::vector<std::string> serve_args(const Fixture& f, const std::string& moto_endpoint,
                                    const std::string& token_file) {
  return f.jwt_args(moto_endpoint,
                    {"--role-arn", kJwtRole, "--role-session-name", "it-serve", "--token-file",
                     token_file, "--bind", "127.0.0.1:0", "--bind", "[::1]:0"},
                    "jwt-serve");
}

}  // namespace

TEST_CASE("jwt-serve: botocore's container provider and the AWS CLI get working credentials") {
  Fixture f;
  f.agent.set_jwt_svids({{kSubject, make_jwt(kSubject, kAudience, std::chrono::hours(1)), ""}});
  Moto moto(f.dir);
  const std::string token_file = f.dir.file("run/token");
  Served s(serve_args(f, moto.endpoint(), token_file), f.dir.file("serve.log"));
  CAPTURE(s.log());

  // The token: 256 bits as 64 hex digits, no newline (botocore rejects one), 0600, directory 0700.
  CHECK(std::regex_match(s.token, std::regex("[0-9a-f]{64}")));
  struct stat st {};
  REQUIRE(stat(token_file.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  REQUIRE(stat(f.dir.file("run").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
  CHECK(s.env.at("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") == token_file);

  const std::string script = botocore_caller_script("container-role");
  const std::string expected = "arn:aws:sts::123456789012:assumed-role/served-role/it-serve\n";

  SUBCASE("botocore, the token from the file") {
    auto b = run({"python3", "-c", script, moto.endpoint()}, sdk_env(s.env));
    CAPTURE(b.err);
    CHECK(b.exit_code == 0);
    CHECK(b.out == expected);
  }
  SUBCASE("botocore, the token from AWS_CONTAINER_AUTHORIZATION_TOKEN") {
    auto env = sdk_env(
        {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", s.env.at("AWS_CONTAINER_CREDENTIALS_FULL_URI")},
         {"AWS_CONTAINER_AUTHORIZATION_TOKEN", s.token}});
    auto b = run({"python3", "-c", script, moto.endpoint()}, env);
    CAPTURE(b.err);
    CHECK(b.exit_code == 0);
    CHECK(b.out == expected);
  }
  SUBCASE("the AWS CLI") {
    auto cli = run({"aws", "sts", "get-caller-identity", "--endpoint-url", moto.endpoint(),
                    "--output", "text", "--query", "Arn"},
                   sdk_env(s.env));
    CAPTURE(cli.err);
    CHECK(cli.exit_code == 0);
    CHECK(cli.out == expected);
  }
  SUBCASE("botocore's IMDS provider (AWS_EC2_METADATA_SERVICE_ENDPOINT), IMDSv2 tokens") {
    auto env = sdk_env(
        {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:" + std::to_string(s.port) + "/"},
         {"AWS_EC2_METADATA_DISABLED", "\x01"},
         {"AWS_EC2_METADATA_V1_DISABLED", "true"}});
    const std::string imds_script = botocore_caller_script("iam-role");
    auto b = run({"python3", "-c", imds_script, moto.endpoint()}, env);
    CAPTURE(b.err);
    CHECK(b.exit_code == 0);
    CHECK(b.out == expected);
    // IMDSv1 is off: a GET without a session token is refused.
    CHECK(http_get(s.port, "/latest/meta-data/iam/security-credentials/").status == 401);
  }
  SUBCASE("the AWS SDK for JavaScript v3: fromHttp, fromContainerMetadata, fromInstanceMetadata") {
    const std::string js = source_root() + "/test/js";
    if (!std::filesystem::exists(js + "/node_modules/@aws-sdk/credential-providers") ||
        run({"node", "--version"}).exit_code != 0) {
      MESSAGE(
          "skipped: node or the SDK is missing (scripts/install-deps installs them into test/js)");
    } else {
      const auto imds_endpoint = "http://127.0.0.1:" + std::to_string(s.port);
      struct Case {
        std::string provider;
        std::map<std::string, std::string> env;
      };
      const std::vector<Case> cases{
          {"http", sdk_env(s.env)},
          {"http", sdk_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI",
                             s.env.at("AWS_CONTAINER_CREDENTIALS_FULL_URI")},
                            {"AWS_CONTAINER_AUTHORIZATION_TOKEN", s.token}})},
          {"container", sdk_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                  s.env.at("AWS_CONTAINER_CREDENTIALS_FULL_URI")},
                                 {"AWS_CONTAINER_AUTHORIZATION_TOKEN", s.token}})},
          {"imds", sdk_env({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_endpoint},
                            {"AWS_EC2_METADATA_DISABLED", "\x01"}})},
      };
      for (const auto& c : cases) {
        CAPTURE(c.provider);
        auto r = run({"node", js + "/serve_client.mjs", c.provider, moto.endpoint()}, c.env);
        CAPTURE(r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.out == expected);
      }
    }
  }
  SUBCASE("/metrics and /readyz on the same listener, without secrets") {
    REQUIRE(s.get("/v1/credentials", s.token).status == 200);
    CHECK(s.get("/readyz", std::nullopt).status == 200);
    auto m = s.get("/metrics", std::nullopt);
    REQUIRE(m.status == 200);
    CHECK(m.body.find(
              "aws_spiffe_workload_helper_exchanges_total{result=\"success\",class=\"\"} 1") !=
          std::string::npos);
    CHECK(m.body.find("aws_spiffe_workload_helper_http_requests_total{route=\"credentials\",status="
                      "\"200\"}") != std::string::npos);
    CHECK(m.body.find("aws_spiffe_workload_helper_svid_expiry_timestamp_seconds ") !=
          std::string::npos);
    CHECK(m.body.find("build_info{version=") != std::string::npos);
    CHECK(m.body.find(s.token) == std::string::npos);
    const auto creds = parse_object(s.get("/v1/credentials", s.token).body);
    CHECK(m.body.find(str(creds.at("SecretAccessKey"))) == std::string::npos);
  }
  SUBCASE("the answer's shape; IPv6 loopback too") {
    auto a = s.get("/v1/credentials", s.token);
    REQUIRE(a.status == 200);
    const auto json = parse_object(a.body);
    CHECK(std::regex_match(str(json.at("Expiration")),
                           std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
    CHECK(str(json.at("AccountId")) == "123456789012");
    CHECK_FALSE(str(json.at("Token")).empty());
    CHECK(a.headers.find("Cache-Control: no-store") != std::string::npos);
    CHECK(s.log().find("[::1]:") != std::string::npos);  // dual-stack listener
  }

  s.child.signal(SIGTERM);
  CHECK(s.child.wait(std::chrono::seconds(5)) == 0);
  // No secret in the log.
  const auto log = s.log();
  CHECK(log.find(s.token) == std::string::npos);
}

TEST_CASE(
    "x509-serve: 503 until credentials, 401 without the token, the last good ones kept while "
    "renewals fail, never stale; SIGTERM exits 0") {
  Fixture f;  // no SVID yet
  StandIn standin(f.pki.root_pem(), {{"--lifetime", "10"}});
  const std::string token_file = f.dir.file("token");
  Served s(f.args(standin,
                  {"--token-file", token_file, "--bind", "127.0.0.1:0", "--listen-before-ready"},
                  "x509-serve"),
           f.dir.file("serve.log"));
  CAPTURE(s.log());

  auto a = s.get("/v1/credentials", s.token);
  CHECK(a.status == 503);
  CHECK(str(parse_object(a.body).at("code")) == "CredentialsUnavailable");
  CHECK(s.get("/readyz", std::nullopt).status == 503);
  CHECK(s.get("/healthz", std::nullopt).status == 200);

  f.serve();  // the agent issues an SVID
  REQUIRE_MESSAGE(eventually([&] { return s.get("/v1/credentials", s.token).status == 200; },
                             std::chrono::seconds(20)),
                  s.log());
  a = s.get("/v1/credentials", s.token);
  const auto json = parse_object(a.body);
  CHECK(str(json.at("AccessKeyId")).rfind("ASIA", 0) == 0);
  CHECK(str(json.at("AccountId")) == "123456789012");

  // The bearer token, checked exactly.
  CHECK(s.get("/v1/credentials", std::nullopt).status == 401);
  CHECK(s.get("/v1/credentials", "wrong").status == 401);
  CHECK(s.get("/v1/credentials", s.token + "0").status == 401);
  CHECK(s.get("/v1/credentials", s.token.substr(0, 63)).status == 401);
  CHECK(s.get("/v1/credentials", "Bearer " + s.token).status == 401);
  CHECK(s.get("/nope", s.token).status == 404);
  // Size limits: a header over 8 KiB gets 431, a body over 1 KiB 413.
  CHECK(http_get(s.port, "/healthz", "X-Big: " + std::string(10000, 'a') + "\r\n").status == 431);
  CHECK(http_get(s.port, "/healthz", "Content-Length: 5000\r\n").status == 413);

  // Roles Anywhere fails from now on: the last good credentials are served until they expire,
  // then 503, never stale ones.
  std::string outage = "503";
  for (int i = 0; i < 99; ++i) outage += ",503";
  standin.fail_next(outage);
  const auto last = str(parse_object(s.get("/v1/credentials", s.token).body).at("AccessKeyId"));
  REQUIRE_MESSAGE(
      eventually([&] { return s.log().find("renewal failed (1 in a row)") != std::string::npos; },
                 std::chrono::seconds(20)),
      s.log());
  a = s.get("/v1/credentials", s.token);
  REQUIRE(a.status == 200);
  CHECK(str(parse_object(a.body).at("AccessKeyId")) == last);
  REQUIRE_MESSAGE(eventually([&] { return s.get("/v1/credentials", s.token).status == 503; },
                             std::chrono::seconds(15)),
                  s.log());
  CHECK(s.log().find("the in-memory store keeps the current credentials") != std::string::npos);

  const auto stopping = Clock::now();
  s.child.signal(SIGTERM);
  CHECK(s.child.wait(std::chrono::seconds(5)) == 0);
  CHECK(Clock::now() - stopping < std::chrono::milliseconds(1500));
}

TEST_CASE("serve under load: 1,000 concurrent requests, a slowloris client, SIGTERM mid-load") {
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());
  const std::string token_file = f.dir.file("token");
  Served s(f.args(standin, {"--token-file", token_file, "--bind", "127.0.0.1:0"}, "x509-serve"),
           f.dir.file("serve.log"));
  const std::string script = source_root() + "/test/integration/serve_load.py";
  const auto port = std::to_string(s.port);

  SUBCASE("1,000 concurrent requests all succeed") {
    auto r =
        run({"python3", script, "concurrent", port, s.token, "1000"}, {}, std::chrono::seconds(60));
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    const auto json = parse_object(r.out);
    CHECK(json.at("ok").as_int64() == 1000);
    CHECK(json.at("errors").as_int64() == 0);
  }
  SUBCASE("slowloris clients do not hold up others and are cut off") {
    auto r =
        run({"python3", script, "slowloris", port, s.token, "50"}, {}, std::chrono::seconds(60));
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    const auto json = parse_object(r.out);
    CHECK(json.at("normal_ok").as_int64() > 20);
    CHECK(json.at("normal_max_ms").as_int64() < 2000);
    CHECK(json.at("slow_cut").as_int64() == 50);
    CHECK(s.log().find("request not complete in time") != std::string::npos);
  }
  SUBCASE("SIGTERM during load exits 0") {
    Child load({"python3", script, "hammer", port, s.token, "4"});
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    const auto stopping = Clock::now();
    s.child.signal(SIGTERM);
    CHECK(s.child.wait(std::chrono::seconds(5)) == 0);
    CHECK(Clock::now() - stopping < std::chrono::milliseconds(1500));
    auto line = load.read_line(std::chrono::seconds(20));
    REQUIRE(line.has_value());
    CHECK(parse_object(*line).at("ok").as_int64() > 50);
  }
}
