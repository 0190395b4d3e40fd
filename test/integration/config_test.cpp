// End-to-end tests of `--config FILE`: one daemon, several exchanges, several profiles. Against
// the fake Workload API (several SVIDs, one stream), the Roles Anywhere stand-in (seconds-long
// credentials, so that renewals come quickly; restricted to one role to make the other fail),
// and moto's STS, whose credentials botocore then uses for GetCallerIdentity.
#include <doctest/doctest.h>

#include <signal.h>

#include <filesystem>
#include <set>
#include <thread>

#include "fixture.hpp"
#include "manager_socket.hpp"
#include "moto.hpp"

using namespace awh;
using namespace awh::itest;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

const std::string kReaderRole = "arn:aws:iam::123456789012:role/reader";
const std::string kWriterRole = "arn:aws:iam::123456789012:role/writer";
const std::string kReaderId = "spiffe://example.org/reader";
const std::string kWriterId = "spiffe://example.org/writer";

// The roleArn a recorded request asked for ("" if none).
std::string role_of(const boost::json::object& record) {
  const auto* query = record.at("query").if_object();
  if (query == nullptr) return {};
  const auto* role = query->if_contains("roleArn");
  return role != nullptr && role->is_string() ? std::string(role->as_string()) : std::string();
}

// What the stand-in issued to each role, in order.
std::map<std::string, std::vector<std::string>> issued_keys(const StandIn& standin) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& line : standin.records()) {
    const auto r = parse_object(line);
    if (r.at("status").as_int64() != 201 || r.at("credentials").is_null()) continue;
    out[role_of(r)].push_back(str(r.at("credentials").as_object().at("accessKeyId")));
  }
  return out;
}

// Requests for `role` the stand-in refused with `status`.
int refused(const StandIn& standin, const std::string& role, int status) {
  int n = 0;
  for (const auto& line : standin.records()) {
    const auto r = parse_object(line);
    if (r.at("status").as_int64() == status && role_of(r) == role) {
      ++n;
    }
  }
  return n;
}

// What botocore reads from a profile of the file: its access key id, or "none".
std::string botocore_key(const std::string& path, const std::string& profile) {
  const std::string script =
      "import sys\n"
      "from botocore.credentials import SharedCredentialProvider\n"
      "c = SharedCredentialProvider(creds_filename=sys.argv[1], profile_name=sys.argv[2]).load()\n"
      "print('none' if c is None else c.access_key)\n";
  auto r = run({"python3", "-c", script, path, profile});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return r.out.substr(0, r.out.find('\n'));
}

std::string x509_exchange(const std::string& profile, const std::string& role,
                          const std::string& spiffe_id) {
  return "  - profile: " + profile + "\n    trust-anchor-arn: " + kTrustAnchorArn +
         "\n    profile-arn: " + kProfileArn + "\n    role-arn: " + role +
         "\n    spiffe-id: " + spiffe_id + "\n";
}

// Two X.509-SVIDs (reader, writer) served, and a config for them against `standin`.
std::string two_role_config(Fixture& f, const StandIn& standin, const std::string& path) {
  auto reader = f.pki.issue(kReaderId, KeyKind::p256, true);
  auto writer = f.pki.issue(kWriterId, KeyKind::rsa2048, false);
  f.agent.set_svids(
      {{reader.spiffe_id, reader.chain_der, reader.key_pkcs8_der, f.pki.root_der(), ""},
       {writer.spiffe_id, writer.chain_der, writer.key_pkcs8_der, f.pki.root_der(), ""}});
  return "workload-api-addr: unix://" + f.dir.file("agent.sock") +
         "\nca-bundle: " + standin.ca_pem_path() + "\ntimeout: 20\naws-credentials-path: " + path +
         "\nexchanges:\n" + x509_exchange("reader", kReaderRole, kReaderId) +
         x509_exchange("writer", kWriterRole, kWriterId) + "    endpoint: " + standin.endpoint() +
         "\n" + "    session-duration: 900\n";
}

std::string with_endpoint(std::string config, const std::string& endpoint) {
  // The reader's exchange gets the endpoint too (the writer's has it already).
  const std::string anchor = "    spiffe-id: " + kReaderId + "\n";
  config.insert(config.find(anchor) + anchor.size(), "    endpoint: " + endpoint + "\n");
  return config;
}

}  // namespace

TEST_CASE("--config: two roles in two profiles renew independently over one Workload API stream") {
  Fixture f;
  StandIn standin(f.pki.root_pem(), {{"--lifetime", "3"}});
  const std::string path = f.dir.file("credentials");
  write_file(path, "[keep]\nregion = eu-west-1\n");
  const std::string config = f.dir.file("helper.yaml");
  write_file(config, with_endpoint(two_role_config(f, standin, path), standin.endpoint()));

  Child daemon({binary_path(), "x509-credential-file", "--config", config, "--log-level", "debug"},
               {}, f.dir.file("daemon.log"));
  const auto log = [&] { return read_file(f.dir.file("daemon.log")); };
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        auto keys = issued_keys(standin);
                        return keys[kReaderRole].size() >= 4 && keys[kWriterRole].size() >= 4;
                      },
                      seconds(40)),
                  log());
  // One FetchX509SVID stream serves both exchanges.
  CHECK(f.agent.open_streams() == 1);
  // The start-up writes of both profiles were one rename.
  CHECK(log().find("wrote profiles [reader], [writer] of " + path + " in one rename") !=
        std::string::npos);

  daemon.signal(SIGTERM);
  CHECK(daemon.wait(seconds(5)) == 0);

  // botocore reads each profile's newest credentials (an exchange answered while the daemon
  // stopped is not written: the one before it); the other profile stays.
  const auto keys = issued_keys(standin);
  for (const auto& [profile, role] : {std::pair{"reader", kReaderRole}, {"writer", kWriterRole}}) {
    CAPTURE(profile);
    const auto& sets = keys.at(role);
    const auto read = botocore_key(path, profile);
    CHECK((read == sets.back() || read == sets[sets.size() - 2]));
  }
  CHECK(read_file(path).rfind("[keep]\nregion = eu-west-1\n", 0) == 0);

  const auto text = log();
  CAPTURE(text);
  CHECK(text.find("renewed profile [reader] of " + path) != std::string::npos);
  CHECK(text.find("renewed profile [writer] of " + path) != std::string::npos);
  // Each exchange used its own SVID.
  CHECK(text.find("with X.509-SVID " + kReaderId) != std::string::npos);
  CHECK(text.find("with X.509-SVID " + kWriterId) != std::string::npos);
}

TEST_CASE("--config: one exchange refused (403) while the other keeps renewing") {
  Fixture f;
  // The stand-in only knows the reader's role: the writer's requests get 403.
  StandIn standin(f.pki.root_pem(), {{"--lifetime", "3", "--role-arn", kReaderRole}});
  const std::string path = f.dir.file("credentials");
  const std::string config = f.dir.file("helper.yaml");
  write_file(config, with_endpoint(two_role_config(f, standin, path), standin.endpoint()));

  Child daemon({binary_path(), "x509-credential-file", "--config", config}, {},
               f.dir.file("daemon.log"));
  const auto log = [&] { return read_file(f.dir.file("daemon.log")); };
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        return issued_keys(standin)[kReaderRole].size() >= 4 &&
                               refused(standin, kWriterRole, 403) >= 3;
                      },
                      seconds(40)),
                  log());
  CHECK(daemon.wait(milliseconds(10)) == std::nullopt);  // still running
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(seconds(5)) == 0);
  const auto reader = issued_keys(standin)[kReaderRole];
  const auto read = botocore_key(path, "reader");
  CHECK((read == reader.back() || read == reader[reader.size() - 2]));
  CHECK(botocore_key(path, "writer") == "none");
  const auto text = log();
  CAPTURE(text);
  CHECK(text.find("AccessDeniedException") != std::string::npos);
  CHECK(text.find("renewed profile [reader]") != std::string::npos);
  CHECK(text.find("renewed profile [writer]") == std::string::npos);
}

TEST_CASE(
    "--config: a new certificate renews only the exchange that uses it; one stream again "
    "after the agent restarts") {
  Fixture f;
  StandIn standin(f.pki.root_pem());  // hour-long credentials: no renewal by time in this test
  const std::string path = f.dir.file("credentials");
  const std::string config = f.dir.file("helper.yaml");
  write_file(config, with_endpoint(two_role_config(f, standin, path), standin.endpoint()));
  Child daemon({binary_path(), "x509-credential-file", "--config", config}, {},
               f.dir.file("daemon.log"));
  const auto log = [&] { return read_file(f.dir.file("daemon.log")); };
  const auto count = [&](const std::string& role) { return issued_keys(standin)[role].size(); };
  REQUIRE_MESSAGE(
      eventually([&] { return count(kReaderRole) == 1 && count(kWriterRole) == 1; }, seconds(20)),
      log());

  // The writer's SVID rotates; the reader's stays the same certificate.
  const auto served = [&](const testpeers::IssuedSvid& reader,
                          const testpeers::IssuedSvid& writer) {
    f.agent.set_svids(
        {{reader.spiffe_id, reader.chain_der, reader.key_pkcs8_der, f.pki.root_der(), ""},
         {writer.spiffe_id, writer.chain_der, writer.key_pkcs8_der, f.pki.root_der(), ""}});
  };
  const auto reader = f.pki.issue(kReaderId, KeyKind::p256, true);
  const auto writer = f.pki.issue(kWriterId, KeyKind::p256, true);
  served(reader, writer);
  // Both are new certificates here (the first set came from two_role_config): both renew.
  REQUIRE_MESSAGE(
      eventually([&] { return count(kReaderRole) == 2 && count(kWriterRole) == 2; }, seconds(20)),
      log());
  // Now only the writer's changes; the triggered-exchange spacing (5 s) delays it.
  served(reader, f.pki.issue(kWriterId, KeyKind::p256, true));
  REQUIRE_MESSAGE(eventually([&] { return count(kWriterRole) == 3; }, seconds(20)), log());
  CHECK(count(kReaderRole) == 2);

  // The agent restarts: both sources reconnect, through one stream again.
  f.agent.end_streams(grpc::StatusCode::UNAVAILABLE, "agent restarting");
  CHECK(f.agent.wait_for_open_streams(1, seconds(20)));
  std::this_thread::sleep_for(milliseconds(3000));  // both reconnect schedules have run by now
  CHECK(f.agent.open_streams() == 1);
  CHECK(count(kReaderRole) == 2);  // the same certificates: nothing to renew
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(seconds(5)) == 0);
}

TEST_CASE("--config: JWT-SVID exchanges with moto's STS; botocore uses both profiles") {
  Fixture f;
  Moto moto(f.dir);
  f.agent.set_jwt_svids(
      {{"spiffe://example.org/app", make_jwt("spiffe://example.org/app", kAudience), ""}});
  const std::string path = f.dir.file("aws/credentials");  // the directory is created
  const std::string config = f.dir.file("helper.yaml");
  write_file(config, "workload-api-addr: unix://" + f.dir.file("agent.sock") +
                         "\naws-credentials-path: " + path +
                         "\nexchanges:\n"
                         "  - profile: analytics\n"
                         "    audience: " +
                         kAudience + "\n    endpoint: " + moto.endpoint() +
                         "\n    role-arn: arn:aws:iam::123456789012:role/analytics\n"
                         "    role-session-name: it-analytics\n"
                         "  - profile: billing\n"
                         "    audience: " +
                         kAudience + "\n    endpoint: " + moto.endpoint() +
                         "\n    role-arn: arn:aws:iam::123456789012:role/billing\n"
                         "    role-session-name: it-billing\n");
  Child daemon({binary_path(), "jwt-credential-file", "--config", config}, {},
               f.dir.file("daemon.log"));
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        return std::filesystem::exists(path) &&
                               read_file(path).find("[billing]") != std::string::npos &&
                               read_file(path).find("[analytics]") != std::string::npos;
                      },
                      seconds(30)),
                  read_file(f.dir.file("daemon.log")));
  const std::map<std::string, std::string> env{
      {"AWS_CONFIG_FILE", "/dev/null"},   {"AWS_SHARED_CREDENTIALS_FILE", path},
      {"AWS_ACCESS_KEY_ID", "\x01"},      {"AWS_SECRET_ACCESS_KEY", "\x01"},
      {"AWS_SESSION_TOKEN", "\x01"},      {"AWS_PROFILE", "\x01"},
      {"AWS_DEFAULT_REGION", "us-east-1"}};
  for (const auto& [profile, arn] : std::vector<std::pair<std::string, std::string>>{
           {"analytics", "arn:aws:sts::123456789012:assumed-role/analytics/it-analytics"},
           {"billing", "arn:aws:sts::123456789012:assumed-role/billing/it-billing"}}) {
    CAPTURE(profile);
    const auto r = run({"python3", "-c", botocore_caller_script("shared-credentials-file", profile),
                        moto.endpoint()},
                       env);
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(r.out == arn + "\n");
  }
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(seconds(5)) == 0);
}

TEST_CASE("--config: a bad file is a line-numbered usage error before any request") {
  Fixture f;
  const std::string config = f.dir.file("helper.yaml");
  write_file(config,
             "aws-credentials-path: /tmp/never-written\n"
             "exchanges:\n"
             "  - profile: a\n"
             "    audience: sts.amazonaws.com\n"
             "    endpoint: http://127.0.0.1:1\n"
             "    session-duration: [900]\n");
  const auto r = run({binary_path(), "jwt-credential-file", "--config", config});
  check_failure(r,
                config +
                    ":6: exchanges[0]: session-duration: expected a single value (a string or a "
                    "number), found a list",
                2);
  const auto mixed =
      run({binary_path(), "jwt-credential-file", "--config", config, "--audience", "x"});
  check_failure(mixed, "--audience can't be combined with --config", 2);
  CHECK(f.agent.calls() == 0);
}

// --config with a serve block: one process serves several roles, each at its own path.
namespace {

const std::string kAnalyticsArn = "arn:aws:sts::123456789012:assumed-role/analytics/it-analytics";
const std::string kBillingArn = "arn:aws:sts::123456789012:assumed-role/billing/it-billing";

// A JWT-SVID exchange with STS at `endpoint`, assuming `role` (session name it-<role>).
std::string jwt_exchange(const std::string& endpoint, const std::string& role,
                         const std::string& extra) {
  return "  - audience: " + kAudience + "\n    endpoint: " + endpoint +
         "\n    role-arn: arn:aws:iam::123456789012:role/" + role + "\n    role-session-name: it-" +
         role + "\n" + extra;
}

// The daemon's stdout lines: a FULL_URI per served path, then the token file.
struct ServedPaths {
  std::vector<std::string> uris;
  std::string token_file;
  int port = 0;
  std::string token;
};

ServedPaths read_served(Child& daemon, std::size_t paths, const std::string& log) {
  const auto lines = read_env_lines(daemon, static_cast<int>(paths) + 1);
  REQUIRE_MESSAGE(lines.size() == paths + 1, log);
  ServedPaths out;
  for (std::size_t i = 0; i < paths; ++i) {
    REQUIRE(lines[i].first == "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    out.uris.push_back(lines[i].second);
  }
  REQUIRE(lines.back().first == "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  out.token_file = lines.back().second;
  const std::string prefix = "http://127.0.0.1:";
  REQUIRE(out.uris.front().rfind(prefix, 0) == 0);
  out.port = std::stoi(out.uris.front().substr(prefix.size()));
  out.token = read_file(out.token_file);
  return out;
}

// botocore's container provider on `uri`, the token from the file: the caller's ARN at moto.
RunResult botocore_container(const std::string& uri, const std::string& token_file,
                             const std::string& sts_endpoint) {
  return run({"python3", "-c", botocore_caller_script("container-role"), sts_endpoint},
             sdk_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", uri},
                      {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file}}));
}

}  // namespace

TEST_CASE("--config serve: two roles at two paths of one endpoint; botocore and the AWS CLI") {
  Fixture f;
  Moto moto(f.dir);
  f.agent.set_jwt_svids(
      {{"spiffe://example.org/app", make_jwt("spiffe://example.org/app", kAudience), ""}});
  const std::string path = f.dir.file("credentials");
  const std::string config = f.dir.file("helper.yaml");
  // analytics is also written to a profile (both outputs); billing is served only.
  write_file(config, "workload-api-addr: unix://" + f.dir.file("agent.sock") +
                         "\naws-credentials-path: " + path + "\nserve:\n  token-file: " +
                         f.dir.file("run/token") + "\n  bind: [127.0.0.1:0]\nexchanges:\n" +
                         jwt_exchange(moto.endpoint(), "analytics",
                                      "    path: /roles/analytics\n    profile: analytics\n") +
                         jwt_exchange(moto.endpoint(), "billing", "    path: /roles/billing\n"));
  Child daemon({binary_path(), "jwt-serve", "--config", config}, {}, f.dir.file("daemon.log"));
  const auto log = [&] { return read_file(f.dir.file("daemon.log")); };
  const auto served = read_served(daemon, 2, log());
  CAPTURE(log());
  CHECK(served.uris[0] == "http://127.0.0.1:" + std::to_string(served.port) + "/roles/analytics");
  CHECK(served.uris[1] == "http://127.0.0.1:" + std::to_string(served.port) + "/roles/billing");
  CHECK(served.token_file == f.dir.file("run/token"));

  // Each path: its own role's credentials, which moto's STS accepts.
  const auto analytics = botocore_container(served.uris[0], served.token_file, moto.endpoint());
  CHECK_MESSAGE(analytics.exit_code == 0, analytics.err);
  CHECK(analytics.out == kAnalyticsArn + "\n");
  const auto billing = botocore_container(served.uris[1], served.token_file, moto.endpoint());
  CHECK_MESSAGE(billing.exit_code == 0, billing.err);
  CHECK(billing.out == kBillingArn + "\n");
  const auto cli = run({"aws", "sts", "get-caller-identity", "--endpoint-url", moto.endpoint(),
                        "--output", "text", "--query", "Arn"},
                       sdk_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", served.uris[1]},
                                {"AWS_CONTAINER_AUTHORIZATION_TOKEN", served.token}}));
  CHECK_MESSAGE(cli.exit_code == 0, cli.err);
  CHECK(cli.out == kBillingArn + "\n");

  // The profile holds what the path serves (one exchange, two outputs).
  const auto answer =
      http_get(served.port, "/roles/analytics", "Authorization: " + served.token + "\r\n");
  REQUIRE(answer.status == 200);
  const auto body = parse_object(answer.body);
  CHECK(botocore_key(path, "analytics") == str(body.at("AccessKeyId")));
  CHECK(str(body.at("AccountId")) == "123456789012");

  // The token is required on every path; unknown paths (the single command's too) are 404.
  for (const std::string p : {"/roles/analytics", "/roles/billing"}) {
    CAPTURE(p);
    CHECK(http_get(served.port, p).status == 401);
    CHECK(http_get(served.port, p, "Authorization: " + std::string(64, '0') + "\r\n").status ==
          401);
  }
  for (const std::string p :
       {"/v1/credentials", "/roles", "/roles/analytics/x", "/latest/api/token"}) {
    CAPTURE(p);
    CHECK(http_get(served.port, p, "Authorization: " + served.token + "\r\n").status == 404);
  }
  // Ready: every exchange has credentials; /metrics counts both exchanges.
  CHECK(http_get(served.port, "/readyz").status == 200);
  const auto metrics = http_get(served.port, "/metrics");
  CHECK(metrics.body.find("exchanges_total{result=\"success\",class=\"\"} 2") != std::string::npos);
  // One JWT fetch per exchange, no stream: the agent saw no FetchX509SVID.
  CHECK(f.agent.open_streams() == 0);
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(seconds(5)) == 0);
}

TEST_CASE("--config serve: one exchange failing; the other path keeps serving") {
  Fixture f;
  Moto moto(f.dir);
  f.agent.set_jwt_svids(
      {{"spiffe://example.org/app", make_jwt("spiffe://example.org/app", kAudience), ""}});
  const std::string config = f.dir.file("helper.yaml");
  const std::string nowhere = "http://127.0.0.1:" + std::to_string(free_port());
  write_file(config,
             "workload-api-addr: unix://" + f.dir.file("agent.sock") +
                 "\ntimeout: 3\nhealth-addr: 127.0.0.1:0\nserve:\n  token-file: " +
                 f.dir.file("token") + "\n  bind: 127.0.0.1:0\nexchanges:\n" +
                 jwt_exchange(moto.endpoint(), "analytics", "    path: /roles/analytics\n") +
                 jwt_exchange(nowhere, "billing", "    path: /roles/billing\n"));
  Child daemon({binary_path(), "jwt-credential-file", "--config", config}, {},
               f.dir.file("daemon.log"));
  const auto log = [&] { return read_file(f.dir.file("daemon.log")); };
  // Not every exchange delivered: the endpoint opens at the start-up deadline, not before.
  const auto started = std::chrono::steady_clock::now();
  const auto served = read_served(daemon, 2, log());
  CHECK(std::chrono::steady_clock::now() - started >= milliseconds(2500));
  CAPTURE(log());
  CHECK(log().find("no credentials for /roles/billing within the timeout (3 s); serving the "
                   "others") != std::string::npos);
  const std::string auth = "Authorization: " + served.token + "\r\n";
  for (int round = 0; round < 2; ++round) {
    const auto analytics = botocore_container(served.uris[0], served.token_file, moto.endpoint());
    CHECK_MESSAGE(analytics.exit_code == 0, analytics.err);
    CHECK(analytics.out == kAnalyticsArn + "\n");
    CHECK(http_get(served.port, "/roles/billing", auth).status == 503);
    CHECK(http_get(served.port, "/readyz").status == 503);  // not every exchange is ready
    std::this_thread::sleep_for(milliseconds(1500));        // the failing one keeps retrying
  }
  CHECK(daemon.wait(milliseconds(10)) == std::nullopt);  // still running
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(seconds(5)) == 0);
}

TEST_CASE("--config: health-addr's /readyz waits for every profile; force replaces a bad file") {
  Fixture f;
  Moto moto(f.dir);
  f.agent.set_jwt_svids(
      {{"spiffe://example.org/app", make_jwt("spiffe://example.org/app", kAudience), ""}});
  const std::string path = f.dir.file("credentials");
  write_file(path, "this is not an INI file [\n");
  const int health = free_port();
  const std::string config = f.dir.file("helper.yaml");
  write_file(config, "workload-api-addr: unix://" + f.dir.file("agent.sock") +
                         "\nhealth-addr: 127.0.0.1:" + std::to_string(health) +
                         "\naws-credentials-path: " + path + "\nforce: true\nexchanges:\n" +
                         jwt_exchange(moto.endpoint(), "analytics", "    profile: analytics\n") +
                         jwt_exchange(moto.endpoint(), "billing", "    profile: billing\n"));
  Child daemon({binary_path(), "jwt-credential-file", "--config", config}, {},
               f.dir.file("daemon.log"));
  const auto log = [&] { return read_file(f.dir.file("daemon.log")); };
  REQUIRE_MESSAGE(
      eventually([&] { return http_get(health, "/readyz").status == 200; }, seconds(30)), log());
  // Ready means both profiles are in the file, which force: true replaced.
  const auto text = read_file(path);
  CHECK(text.find("[analytics]") != std::string::npos);
  CHECK(text.find("[billing]") != std::string::npos);
  CHECK(text.find("not an INI") == std::string::npos);
  CHECK(http_get(health, "/healthz").status == 200);
  CHECK(http_get(health, "/v1/credentials").status == 404);
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(seconds(5)) == 0);

  // Without force the same bad file stops the daemon before any request.
  write_file(path, "this is not an INI file [\n");
  std::string text2 = read_file(config);
  text2.erase(text2.find("force: true\n"), std::string("force: true\n").size());
  write_file(config, text2);
  const auto r = run({binary_path(), "jwt-credential-file", "--config", config});
  CHECK(r.exit_code == 1);
  CHECK(read_file(path) == "this is not an INI file [\n");
}

TEST_CASE("--config: READY=1 once every exchange has delivered, not after the first") {
  Fixture f;
  const std::string socket_path = f.dir.file("notify.sock");
  ManagerSocket manager(socket_path);
  std::vector<std::string> seen;
  const std::string path = f.dir.file("credentials");
  const std::string config = f.dir.file("helper.yaml");
  SUBCASE("one exchange keeps failing: never ready") {
    StandIn standin(f.pki.root_pem(), {{"--role-arn", kReaderRole}});
    write_file(config, with_endpoint(two_role_config(f, standin, path), standin.endpoint()));
    Child daemon({binary_path(), "x509-credential-file", "--config", config},
                 {{"NOTIFY_SOCKET", socket_path}}, f.dir.file("daemon.log"));
    REQUIRE_MESSAGE(eventually(
                        [&] {
                          return issued_keys(standin)[kReaderRole].size() == 1 &&
                                 refused(standin, kWriterRole, 403) >= 2;
                        },
                        seconds(20)),
                    read_file(f.dir.file("daemon.log")));
    CHECK_FALSE(manager.wait_for("READY=1", milliseconds(1500), seen));
    daemon.signal(SIGTERM);
    CHECK(manager.wait_for("STOPPING=1", seconds(5), seen));
    CHECK(daemon.wait(seconds(5)) == 0);
  }
  SUBCASE("both deliver: ready, with both profiles in the file") {
    StandIn standin(f.pki.root_pem());
    write_file(config, with_endpoint(two_role_config(f, standin, path), standin.endpoint()));
    Child daemon({binary_path(), "x509-credential-file", "--config", config},
                 {{"NOTIFY_SOCKET", socket_path}}, f.dir.file("daemon.log"));
    REQUIRE_MESSAGE(manager.wait_for("READY=1", seconds(20), seen),
                    read_file(f.dir.file("daemon.log")));
    CHECK(botocore_key(path, "reader") != "none");
    CHECK(botocore_key(path, "writer") != "none");
    daemon.signal(SIGTERM);
    CHECK(daemon.wait(seconds(5)) == 0);
  }
}
