// End-to-end tests of the JWT-SVID commands: the built binary against the fake Workload API,
// moto's STS (a real implementation we did not write, read back by botocore and the AWS CLI),
// and an STS stand-in that checks where the token travels.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "fixture.hpp"
#include "moto.hpp"

using namespace awh;
using namespace awh::itest;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

const std::string kSubject = "spiffe://example.org/jwt-workload";
const std::string kJwtRole = "arn:aws:iam::123456789012:role/jwt-role";

// What the STS stand-in received and issued.
struct StsRecord {
  boost::json::object form;
  std::string path;
  bool token_in_url = true;
  int status = 0;
  std::string access_key, secret_key, token, expiration;
};

std::vector<StsRecord> sts_records(const StsStandIn& sts) {
  std::vector<StsRecord> out;
  for (const auto& line : sts.records()) {
    const auto r = parse_object(line);
    StsRecord rec{r.at("form").as_object(),
                  str(r.at("path")),
                  r.at("token_in_url").as_bool(),
                  static_cast<int>(r.at("status").as_int64()),
                  {},
                  {},
                  {},
                  {}};
    if (!r.at("credentials").is_null()) {
      const auto& c = r.at("credentials").as_object();
      rec.access_key = str(c.at("AccessKeyId"));
      rec.secret_key = str(c.at("SecretAccessKey"));
      rec.token = str(c.at("SessionToken"));
      rec.expiration = str(c.at("Expiration"));
    }
    out.push_back(std::move(rec));
  }
  return out;
}

std::string json_for(const StsRecord& r) {
  return R"({"Version":1,"AccessKeyId":")" + r.access_key + R"(","SecretAccessKey":")" +
         r.secret_key + R"(","SessionToken":")" + r.token + R"(","Expiration":")" + r.expiration +
         "\"}\n";
}

std::string profile_for(const StsRecord& r) {
  return profile_text("default", r.access_key, r.secret_key, r.token);
}

}  // namespace

TEST_CASE(
    "jwt-credential-process against moto's STS: botocore and the AWS CLI accept the credentials") {
  Fixture f;
  const std::string token = make_jwt(kSubject, kAudience);
  f.agent.set_jwt_svids({{kSubject, token, ""}});
  Moto moto(f.dir);
  const auto args =
      f.jwt_args(moto.endpoint(), {"--role-arn", kJwtRole, "--role-session-name", "it-jwt"});

  auto r = run(args);
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  const auto json = parse_object(r.out);
  CHECK(json.at("Version").as_int64() == 1);
  CHECK(str(json.at("AccessKeyId")).rfind("ASIA", 0) == 0);
  CHECK_FALSE(str(json.at("SessionToken")).empty());
  CHECK(f.agent.last_jwt_audiences() == std::vector<std::string>{kAudience});
  CHECK(r.err.find(token) == std::string::npos);

  // botocore runs our binary as credential_process and calls STS with what it printed.
  write_file(f.dir.file("config"),
             "[profile it]\ncredential_process = " + command_line(args) + "\nregion = us-east-1\n");
  const std::map<std::string, std::string> env{{"AWS_CONFIG_FILE", f.dir.file("config")},
                                               {"AWS_SHARED_CREDENTIALS_FILE", "/dev/null"},
                                               {"AWS_ACCESS_KEY_ID", "\x01"},
                                               {"AWS_SECRET_ACCESS_KEY", "\x01"},
                                               {"AWS_SESSION_TOKEN", "\x01"},
                                               {"AWS_PROFILE", "\x01"}};
  const std::string script = botocore_caller_script("custom-process", "it");
  auto b = run({"python3", "-c", script, moto.endpoint()}, env);
  CAPTURE(b.err);
  CHECK(b.exit_code == 0);
  CHECK(b.out == "arn:aws:sts::123456789012:assumed-role/jwt-role/it-jwt\n");

  auto cli = run({"aws", "--profile", "it", "sts", "get-caller-identity", "--endpoint-url",
                  moto.endpoint(), "--output", "text", "--query", "Arn"},
                 env);
  CAPTURE(cli.err);
  CHECK(cli.exit_code == 0);
  CHECK(cli.out == "arn:aws:sts::123456789012:assumed-role/jwt-role/it-jwt\n");
}

TEST_CASE("the JWT-SVID travels only in the form body, with the parameters STS expects") {
  Fixture f;
  const std::string token = make_jwt(kSubject, kAudience);
  f.agent.set_jwt_svids({{kSubject, token, ""}});
  StsStandIn sts;

  SUBCASE("with a role: a session name is made up when none is given") {
    auto r = run(f.jwt_args(sts.endpoint(), {"--role-arn", kJwtRole, "--session-duration", "900"}));
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    const auto recs = sts_records(sts);
    REQUIRE(recs.size() == 1);
    const auto& rec = recs.front();
    CHECK(rec.status == 200);
    CHECK_FALSE(rec.token_in_url);
    CHECK(rec.path == "/");
    CHECK(str(rec.form.at("WebIdentityToken")) == token);
    CHECK(str(rec.form.at("Action")) == "AssumeRoleWithWebIdentity");
    CHECK(str(rec.form.at("Version")) == "2011-06-15");
    CHECK(str(rec.form.at("DurationSeconds")) == "900");
    CHECK(str(rec.form.at("RoleArn")) == kJwtRole);
    CHECK(str(rec.form.at("RoleSessionName")).rfind("aws-spiffe-workload-helper-", 0) == 0);
    CHECK(r.out == json_for(rec));
  }
  SUBCASE("without a role (MinIO): no RoleArn, no RoleSessionName") {
    auto r = run(f.jwt_args(sts.endpoint()));
    REQUIRE(r.exit_code == 0);
    const auto rec = sts_records(sts).front();
    CHECK_FALSE(rec.form.contains("RoleArn"));
    CHECK_FALSE(rec.form.contains("RoleSessionName"));
    CHECK(str(rec.form.at("DurationSeconds")) == "3600");
    CHECK(r.out == json_for(rec));
  }
  SUBCASE("an explicit session name") {
    auto r =
        run(f.jwt_args(sts.endpoint(), {"--role-arn", kJwtRole, "--role-session-name", "named"}));
    REQUIRE(r.exit_code == 0);
    CHECK(str(sts_records(sts).front().form.at("RoleSessionName")) == "named");
  }
}

TEST_CASE("STS errors: a clear Code: Message and exit 1; transient ones are retried") {
  Fixture f;
  f.agent.set_jwt_svids({{kSubject, make_jwt(kSubject, kAudience), ""}});
  SUBCASE("AccessDenied") {
    StsStandIn sts({"--mode", "deny"});
    check_failure(run(f.jwt_args(sts.endpoint())),
                  "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity");
    CHECK(sts_records(sts).size() == 1);  // not retried
  }
  SUBCASE("503 twice, then success") {
    StsStandIn sts({"--fail", "503,503"});
    auto r = run(f.jwt_args(sts.endpoint()));
    CAPTURE(r.err);
    CHECK(r.exit_code == 0);
    CHECK(sts_records(sts).size() == 3);
  }
  SUBCASE("503 for good") {
    StsStandIn sts({"--fail", "503,503,503,503,503,503"});
    check_failure(run(f.jwt_args(sts.endpoint())),
                  "ServiceUnavailable: injected failure (HTTP 503)");
  }
  SUBCASE("not STS at all") {
    StandIn not_sts(f.pki.root_pem(), {{}, true});  // answers JSON 404s, not XML
    check_failure(run(f.jwt_args(not_sts.endpoint())), "AssumeRoleWithWebIdentity failed");
  }
  SUBCASE("nobody listening") {
    check_failure(
        run(f.jwt_args("http://127.0.0.1:" + std::to_string(free_port()), {"--timeout", "3"})),
        "AssumeRoleWithWebIdentity failed");
  }
}

TEST_CASE("JWT-SVID selection by hint and SPIFFE ID") {
  Fixture f;
  const std::string a = make_jwt("spiffe://example.org/a", kAudience);
  const std::string b = make_jwt("spiffe://example.org/b", kAudience);
  f.agent.set_jwt_svids(
      {{"spiffe://example.org/a", a, "first"}, {"spiffe://example.org/b", b, "second"}});
  StsStandIn sts;
  SUBCASE("no selector: the first, with a warning") {
    auto r = run(f.jwt_args(sts.endpoint()));
    REQUIRE(r.exit_code == 0);
    CHECK(str(sts_records(sts).back().form.at("WebIdentityToken")) == a);
    CHECK(r.err.find("returned 2 JWT-SVIDs") != std::string::npos);
  }
  SUBCASE("--hint") {
    REQUIRE(run(f.jwt_args(sts.endpoint(), {"--hint", "second"})).exit_code == 0);
    CHECK(str(sts_records(sts).back().form.at("WebIdentityToken")) == b);
  }
  SUBCASE("--spiffe-id is sent to the agent and selects") {
    REQUIRE(run(f.jwt_args(sts.endpoint(), {"--spiffe-id", "spiffe://example.org/b"})).exit_code ==
            0);
    CHECK(str(sts_records(sts).back().form.at("WebIdentityToken")) == b);
    CHECK(f.agent.last_jwt_spiffe_id() == "spiffe://example.org/b");
  }
  SUBCASE("no match lists what is available") {
    auto r = run(f.jwt_args(sts.endpoint(), {"--hint", "third"}));
    check_failure(r, "no SVID matches hint 'third'");
    CHECK(r.err.find("first") != std::string::npos);
    CHECK(r.err.find("second") != std::string::npos);
    CHECK(sts_records(sts).empty());
  }
}

TEST_CASE("an expired or wrong-audience JWT-SVID is refused before STS sees it") {
  Fixture f;
  StsStandIn sts;
  SUBCASE("expired") {
    const std::string token = make_jwt(kSubject, kAudience, seconds(-60));
    f.agent.set_jwt_svids({{kSubject, token, ""}});
    auto r = run(f.jwt_args(sts.endpoint()));
    check_failure(r, "expired");
    CHECK(r.err.find(token) == std::string::npos);
  }
  SUBCASE("another audience") {
    const std::string token = make_jwt(kSubject, "minio");
    f.agent.set_jwt_svids({{kSubject, token, ""}});
    auto r = run(f.jwt_args(sts.endpoint(), {"--debug"}));
    check_failure(r, kAudience);
    CHECK(r.err.find("audience") != std::string::npos);
    CHECK(r.err.find(token) == std::string::npos);
  }
  SUBCASE("not a JWT") {
    f.agent.set_jwt_svids({{kSubject, "not-a-jwt", ""}});
    check_failure(run(f.jwt_args(sts.endpoint())), "JWT");
  }
  CHECK(sts_records(sts).empty());
}

TEST_CASE("jwt-credential-file-oneshot and the jwt-credential-file daemon") {
  Fixture f;
  f.agent.set_jwt_svids({{kSubject, make_jwt(kSubject, kAudience), ""}});
  const std::string path = f.dir.file("aws/credentials");

  SUBCASE("oneshot") {
    StsStandIn sts;
    auto r = run(f.jwt_args(sts.endpoint(), {"--aws-credentials-path", path},
                            "jwt-credential-file-oneshot"));
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.empty());
    CHECK(read_file(path) == profile_for(sts_records(sts).back()));
  }
  SUBCASE("the daemon renews at half-life with a fresh JWT-SVID and survives an STS outage") {
    StsStandIn sts({"--lifetime", "3"});
    Child daemon(
        f.jwt_args(sts.endpoint(), {"--aws-credentials-path", path}, "jwt-credential-file"), {},
        f.dir.file("daemon.log"));
    auto ok = [&] {
      int n = 0;
      for (const auto& rec : sts_records(sts)) n += rec.status == 200;
      return n;
    };
    REQUIRE_MESSAGE(eventually([&] { return ok() >= 3; }, seconds(30)),
                    read_file(f.dir.file("daemon.log")));
    const int calls_before = f.agent.calls();
    sts.fail_next("503,503,503,503,503");  // more than one exchange's own retries absorb
    const int ok_before = ok();
    REQUIRE_MESSAGE(eventually([&] { return ok() >= ok_before + 3; }, seconds(40)),
                    read_file(f.dir.file("daemon.log")));
    CHECK(f.agent.calls() >= calls_before + 3);  // a fresh JWT-SVID for every exchange
    daemon.signal(SIGTERM);
    CHECK(daemon.wait(seconds(5)) == 0);
    const std::string log = read_file(f.dir.file("daemon.log"));
    CAPTURE(log);
    CHECK(log.find("renewal failed (1 in a row)") != std::string::npos);
    CHECK(log.find("renewed profile [default]") != std::string::npos);
    CHECK(log.find("JWT-SVID " + kSubject) != std::string::npos);
    CHECK(read_file(path) == profile_for(sts_records(sts).back()));
  }
}
