// End-to-end tests of `x509-credential-process`: the built binary against the in-process fake
// Workload API and the Python Roles Anywhere stand-in, which verifies every request on its own.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>

#include <fmt/format.h>
#include <optional>

#include <boost/json/serialize.hpp>

#include "fixture.hpp"

using namespace awh;
using namespace awh::itest;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testpeers::KeyKind;

TEST_CASE(
    "credential_process JSON for RSA, P-256 and P-384 leaves, with and without intermediate") {
  Fixture f;
  StandIn standin(f.pki.root_pem(), {{"--trust-anchor-arn", kTrustAnchorArn, "--profile-arn",
                                      kProfileArn, "--role-arn", kRoleArn}});
  for (auto kind : {KeyKind::rsa2048, KeyKind::p256, KeyKind::p384}) {
    for (bool intermediate : {false, true}) {
      CAPTURE(testpeers::to_string(kind));
      CAPTURE(intermediate);
      const auto issued = f.serve(kind, intermediate);
      const auto before = standin.records().size();
      auto r =
          run(f.args(standin, {"--role-session-name", "it-session", "--session-duration", "900"}));
      CAPTURE(r.err);
      REQUIRE(r.exit_code == 0);
      REQUIRE(standin.records().size() == before + 1);
      const auto record = parse_object(standin.records().back());
      CHECK(record.at("ok").as_bool());
      CHECK(record.at("status").as_int64() == 201);
      CHECK(str(record.at("serial")) == issued.serial_decimal);
      CHECK(str(record.at("algorithm")) ==
            (kind == KeyKind::rsa2048 ? "AWS4-X509-RSA-SHA256" : "AWS4-X509-ECDSA-SHA256"));
      CHECK(record.at("chain_len").as_int64() == (intermediate ? 1 : 0));
      CHECK(str(record.at("signed_headers")) ==
            (intermediate ? "content-type;host;x-amz-date;x-amz-x509;x-amz-x509-chain"
                          : "content-type;host;x-amz-date;x-amz-x509"));
      CHECK(record.at("body").as_object().at("durationSeconds").as_int64() == 900);
      CHECK(str(record.at("body").as_object().at("roleSessionName")) == "it-session");

      // stdout is exactly one compact JSON line with the issued credentials, in AWS's key order.
      const auto& issued_creds = record.at("credentials").as_object();
      const std::string expected =
          "{\"Version\":1,\"AccessKeyId\":" +
          boost::json::serialize(issued_creds.at("accessKeyId")) +
          ",\"SecretAccessKey\":" + boost::json::serialize(issued_creds.at("secretAccessKey")) +
          ",\"SessionToken\":" + boost::json::serialize(issued_creds.at("sessionToken")) +
          ",\"Expiration\":" + boost::json::serialize(issued_creds.at("expiration")) + "}\n";
      CHECK(r.out == expected);
      CHECK(r.err.find(str(issued_creds.at("secretAccessKey"))) == std::string::npos);
    }
  }
  CHECK(f.agent.rejected_without_header() == 0);
}

TEST_CASE(
    "botocore, through credential_process, gets exactly the credentials the stand-in issued") {
  Fixture f;
  f.serve(KeyKind::rsa2048, true);
  StandIn standin(f.pki.root_pem());
  const std::string command = command_line(f.args(standin));
  write_file(f.dir.file("config"),
             "[profile it]\ncredential_process = " + command + "\nregion = us-east-1\n");
  const std::string script =
      "import botocore.session, json\n"
      "s = botocore.session.Session(profile='it')\n"
      "c = s.get_credentials()\n"
      "print(c.method)\n"
      "fc = c.get_frozen_credentials()\n"
      "print(json.dumps([fc.access_key, fc.secret_key, fc.token]))\n";
  auto r = run({"python3", "-c", script}, {{"AWS_CONFIG_FILE", f.dir.file("config")},
                                           {"AWS_SHARED_CREDENTIALS_FILE", f.dir.file("none")},
                                           {"AWS_ACCESS_KEY_ID", "\x01"},
                                           {"AWS_SECRET_ACCESS_KEY", "\x01"},
                                           {"AWS_SESSION_TOKEN", "\x01"},
                                           {"AWS_PROFILE", "\x01"}});
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  const auto nl = r.out.find('\n');
  CHECK(r.out.substr(0, nl) == "custom-process");
  REQUIRE(standin.records().size() == 1);
  const auto issued = parse_object(standin.records().back()).at("credentials").as_object();
  const auto got = boost::json::parse(r.out.substr(nl + 1)).as_array();
  CHECK(got.at(0).as_string() == issued.at("accessKeyId").as_string());
  CHECK(got.at(1).as_string() == issued.at("secretAccessKey").as_string());
  CHECK(got.at(2).as_string() == issued.at("sessionToken").as_string());
}

TEST_CASE("SVID selection by hint and SPIFFE ID; no match lists what is available") {
  Fixture f;
  StandIn standin(f.pki.root_pem());
  auto a = f.pki.issue("spiffe://example.org/a", KeyKind::p256, false);
  auto b = f.pki.issue("spiffe://example.org/b", KeyKind::p256, false);
  auto c = f.pki.issue("spiffe://example.org/c", KeyKind::rsa2048, true);
  f.agent.set_svids({{a.spiffe_id, a.chain_der, a.key_pkcs8_der, f.pki.root_der(), "internal"},
                     {b.spiffe_id, b.chain_der, b.key_pkcs8_der, f.pki.root_der(), "external"},
                     {c.spiffe_id, c.chain_der, c.key_pkcs8_der, f.pki.root_der(), "external"}});
  auto serial_of_last = [&] { return str(parse_object(standin.records().back()).at("serial")); };

  auto first = run(f.args(standin));
  CHECK(first.exit_code == 0);
  CHECK(serial_of_last() == a.serial_decimal);
  CHECK(first.err.find("using the first, spiffe://example.org/a") != std::string::npos);

  CHECK(run(f.args(standin, {"--hint", "external"})).exit_code == 0);
  CHECK(serial_of_last() == b.serial_decimal);
  CHECK(run(f.args(standin, {"--spiffe-id", "spiffe://example.org/c"})).exit_code == 0);
  CHECK(serial_of_last() == c.serial_decimal);
  CHECK(run(f.args(standin, {"--hint", "external", "--spiffe-id", "spiffe://example.org/c"}))
            .exit_code == 0);
  CHECK(serial_of_last() == c.serial_decimal);

  const auto count = standin.records().size();
  auto none = run(f.args(standin, {"--hint", "nope"}));
  check_failure(
      none,
      "no SVID matches hint 'nope'; available: spiffe://example.org/a (hint 'internal'), "
      "spiffe://example.org/b (hint 'external'), spiffe://example.org/c (hint 'external')");
  CHECK(standin.records().size() == count);  // nothing was sent to AWS
}

TEST_CASE(
    "PERMISSION_DENIED (no identity yet) and UNAVAILABLE are retried; INVALID_ARGUMENT is not") {
  Fixture f;
  StandIn standin(f.pki.root_pem());
  f.serve();
  SUBCASE("retried until the identity arrives") {
    f.agent.fail_next(grpc::StatusCode::PERMISSION_DENIED, 2, "no identity issued");
    auto r = run(f.args(standin));
    CAPTURE(r.err);
    CHECK(r.exit_code == 0);
    CHECK(f.agent.calls() >= 3);
    CHECK(r.err.find("no identity for this workload yet") != std::string::npos);
  }
  SUBCASE("UNAVAILABLE is retried") {
    f.agent.fail_next(grpc::StatusCode::UNAVAILABLE, 2, "agent busy");
    CHECK(run(f.args(standin)).exit_code == 0);
  }
  SUBCASE("INVALID_ARGUMENT fails at once") {
    f.agent.fail_next(grpc::StatusCode::INVALID_ARGUMENT, 5, "bad request");
    auto r = run(f.args(standin));
    check_failure(r, "INVALID_ARGUMENT");
    CHECK(f.agent.calls() == 1);
    CHECK(r.elapsed < seconds(20));  // bounded, with room for a loaded machine
  }
  SUBCASE("no identity at all: fails when --timeout runs out") {
    f.agent.set_no_identity(true);
    auto r = run(f.args(standin, {"--timeout", "2"}));
    check_failure(r, "gave up when --timeout ran out");
    CHECK(r.elapsed >= milliseconds(1500));
    CHECK(r.elapsed < seconds(20));  // bounded, with room for a loaded machine
  }
  CHECK(f.agent.rejected_without_header() == 0);
}

TEST_CASE("a missing agent socket fails within --timeout") {
  Fixture f;
  StandIn standin(f.pki.root_pem());
  auto a = f.args(standin, {"--timeout", "2"});
  set_flag(a, "--workload-api-addr", "unix://" + f.dir.file("missing.sock"));
  auto r = run(a);
  check_failure(r, "unavailable");
  CHECK(r.err.find("missing.sock") != std::string::npos);
  CHECK(r.elapsed >= milliseconds(1500));
  CHECK(r.elapsed < seconds(20));  // bounded, with room for a loaded machine
}

TEST_CASE("Roles Anywhere failures give a clear error, a non-zero exit and an empty stdout") {
  Fixture f;
  f.serve();
  SUBCASE("403 AccessDeniedException is reported with code and message, not retried") {
    StandIn standin(f.pki.root_pem(), {{"--mode", "deny"}});
    auto r = run(f.args(standin));
    check_failure(r, "AccessDeniedException: Unable to assume role");
    CHECK(standin.records().size() == 1);
  }
  SUBCASE("500 then 503 are retried, re-signed, and then succeed") {
    StandIn standin(f.pki.root_pem(), {{"--fail", "500,503"}});
    auto r = run(f.args(standin));
    CAPTURE(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.rfind("{\"Version\":1,", 0) == 0);
    const auto records = standin.records();
    REQUIRE(records.size() == 3);
    // Every attempt was verified on its own (re-signed); ECDSA signatures differ each time.
    CHECK(parse_object(records[0]).at("ok").as_bool());
    CHECK(parse_object(records[2]).at("ok").as_bool());
    CHECK(parse_object(records[0]).at("headers").as_object().at("authorization") !=
          parse_object(records[1]).at("headers").as_object().at("authorization"));
  }
  SUBCASE("connections dropped before the TLS handshake are retried") {
    StandIn standin(f.pki.root_pem(), {{"--drop-connections", "2"}});
    auto r = run(f.args(standin));
    CAPTURE(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("TLS handshake") != std::string::npos);  // the retries were logged
    CHECK(standin.records().size() == 1);
  }
  SUBCASE("429 throttling is retried") {
    StandIn standin(f.pki.root_pem(), {{"--fail", "429"}});
    CHECK(run(f.args(standin)).exit_code == 0);
    CHECK(standin.records().size() == 2);
  }
  SUBCASE("persistent 503 gives up with the AWS error") {
    StandIn standin(f.pki.root_pem(), {{"--fail", "503,503,503,503,503,503"}});
    auto r = run(f.args(standin));
    check_failure(r, "ServiceUnavailableException");
    CHECK(standin.records().size() == 4);
  }
  SUBCASE("malformed JSON") {
    StandIn standin(f.pki.root_pem(), {{"--mode", "malformed"}});
    check_failure(run(f.args(standin)), "not a JSON object");
  }
  SUBCASE("missing fields") {
    StandIn standin(f.pki.root_pem(), {{"--mode", "missing-fields"}});
    check_failure(run(f.args(standin)), "missing credentials.sessionToken");
  }
  SUBCASE("oversized body") {
    StandIn standin(f.pki.root_pem(), {{"--mode", "huge"}});
    check_failure(run(f.args(standin)), "response body exceeds");
  }
  SUBCASE("a hanging server is bounded by --timeout") {
    StandIn standin(f.pki.root_pem(), {{"--mode", "hang"}});
    auto r = run(f.args(standin, {"--timeout", "3"}));
    check_failure(r, "timed out");
    CHECK(r.elapsed < seconds(20));  // bounded, with room for a loaded machine
  }
  SUBCASE("a certificate from another trust domain is rejected by the stand-in") {
    testpeers::TestPki other("other.org");
    StandIn standin(other.root_pem());
    check_failure(run(f.args(standin)), "AccessDeniedException: Untrusted certificate");
  }
  SUBCASE("a plain-http endpoint works for local testing") {
    StandIn standin(f.pki.root_pem(), {{}, true});
    auto a = f.args(standin);
    set_flag(a, "--ca-bundle", std::nullopt);
    auto r = run(a);
    CAPTURE(r.err);
    CHECK(r.exit_code == 0);
    CHECK(standin.records().size() == 1);
  }
}

TEST_CASE("an unusable Expiration is an error before any output, in every mode") {
  Fixture f;
  f.serve();
  const std::string path = f.dir.file("credentials");
  for (const auto& [extra, needle] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--lifetime", "-10"}, "is already past"},
           {{"--lifetime", "30"}, "less than 60 s from now"},
           {{"--expiration", "tomorrow"}, "'tomorrow' is not an RFC 3339 time"}}) {
    CAPTURE(needle);
    StandIn standin(f.pki.root_pem(), {extra});
    check_failure(run(f.args(standin)), needle);
    check_failure(
        run(f.args(standin, {"--aws-credentials-path", path}, "x509-credential-file-oneshot")),
        needle);
    CHECK_FALSE(std::filesystem::exists(path));
    CHECK(standin.records().size() == 2);
  }
  // The daemon may use short-lived credentials, but never expired ones.
  StandIn past(f.pki.root_pem(), {{"--lifetime", "-10"}});
  const std::string log = f.dir.file("daemon.log");
  Child daemon(f.args(past, {"--aws-credentials-path", path}, "x509-credential-file"), {}, log);
  REQUIRE(eventually([&] { return read_file(log).find("already past") != std::string::npos; },
                     seconds(15)));
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("an SVID whose leaf has expired is refused before signing") {
  Fixture f;
  auto issued = f.pki.issue("spiffe://example.org/workload", KeyKind::p256, true, seconds(-30));
  f.agent.set_svids(
      {{issued.spiffe_id, issued.chain_der, issued.key_pkcs8_der, f.pki.root_der(), ""}});
  StandIn standin(f.pki.root_pem());
  check_failure(run(f.args(standin)), "expired at");
  CHECK(standin.records().empty());  // never signed, never sent
}

TEST_CASE("TLS: an untrusted server certificate fails; the CA bundle can come from AWS_CA_BUNDLE") {
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());
  auto a = f.args(standin);
  SUBCASE("system trust store only") {
    set_flag(a, "--ca-bundle", std::nullopt);
    auto r = run(a, {{"AWS_CA_BUNDLE", "\x01"}});
    check_failure(r, "TLS certificate verification failed");
    CHECK(standin.records().empty());
  }
  SUBCASE("the wrong CA") {
    testpeers::TestPki other("other.org");
    write_file(f.dir.file("other.pem"), other.root_pem());
    set_flag(a, "--ca-bundle", f.dir.file("other.pem"));
    check_failure(run(a), "TLS certificate verification failed");
  }
  SUBCASE("AWS_CA_BUNDLE") {
    set_flag(a, "--ca-bundle", std::nullopt);
    auto r = run(a, {{"AWS_CA_BUNDLE", standin.ca_pem_path()}});
    CAPTURE(r.err);
    CHECK(r.exit_code == 0);
  }
  SUBCASE("without --ca-bundle, the system store's hashed directory (SSL_CERT_DIR) is used") {
    // A directory as `openssl rehash` makes it: the CA under its subject-hash name. The
    // helper must find the stand-in's CA there, and only there.
    set_flag(a, "--ca-bundle", std::nullopt);
    const std::string trusted = f.dir.file("hashed-trusted");
    const std::string other_dir = f.dir.file("hashed-other");
    std::filesystem::create_directories(trusted);
    std::filesystem::create_directories(other_dir);
    write_file(trusted + "/ca.pem", read_file(standin.ca_pem_path()));
    testpeers::TestPki other("other.org");
    write_file(other_dir + "/ca.pem", other.root_pem());
    for (const auto& dir : {trusted, other_dir}) {
      REQUIRE(std::system(("openssl rehash '" + dir + "'").c_str()) == 0);
    }
    auto good =
        run(a, {{"AWS_CA_BUNDLE", "\x01"}, {"SSL_CERT_FILE", "\x01"}, {"SSL_CERT_DIR", trusted}});
    CAPTURE(good.err);
    CHECK(good.exit_code == 0);
    CHECK(standin.records().size() == 1);
    auto bad =
        run(a, {{"AWS_CA_BUNDLE", "\x01"}, {"SSL_CERT_FILE", "\x01"}, {"SSL_CERT_DIR", other_dir}});
    check_failure(bad, "TLS certificate verification failed");
    CHECK(standin.records().size() == 1);
  }
  SUBCASE("an unreadable CA bundle is a clear error") {
    set_flag(a, "--ca-bundle", f.dir.file("no-such.pem"));
    check_failure(run(a), "cannot load CA bundle");
  }
  SUBCASE("a FIFO or a device as CA bundle is refused, not read") {
    const std::string fifo = f.dir.file("fifo.pem");
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    set_flag(a, "--ca-bundle", fifo);
    auto r = run(a, {}, seconds(10));
    check_failure(r, "is a FIFO, not a regular file");
    CHECK(r.elapsed < seconds(5));
    set_flag(a, "--ca-bundle", "/dev/zero");
    r = run(a, {}, seconds(10));
    check_failure(r, "is a character device, not a regular file");
    CHECK(r.elapsed < seconds(5));
    CHECK(standin.records().empty());
  }
}

TEST_CASE("TLS: the server certificate must name the host (or IP) we connect to") {
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem(), {{"--server-name", "other.example"}});
  auto a = f.args(standin);
  auto by_name = run(a);
  check_failure(by_name, "TLS certificate verification failed");
  std::string endpoint = standin.endpoint();
  endpoint.replace(endpoint.find("localhost"), 9, "127.0.0.1");
  set_flag(a, "--endpoint", endpoint);
  check_failure(run(a), "TLS certificate verification failed");
  CHECK(standin.records().empty());
}

TEST_CASE("secrets never reach stderr, even at debug level") {
  Fixture f;
  const auto issued = f.serve(KeyKind::rsa2048, true);
  StandIn standin(f.pki.root_pem());
  auto r = run(f.args(standin, {"--debug"}));
  REQUIRE(r.exit_code == 0);
  const auto creds = parse_object(standin.records().back()).at("credentials").as_object();
  CHECK(r.err.find("canonical request") != std::string::npos);  // debug logging is on
  CHECK(r.err.find(str(creds.at("secretAccessKey"))) == std::string::npos);
  CHECK(r.err.find(str(creds.at("sessionToken"))) == std::string::npos);
  CHECK(r.err.find(str(creds.at("accessKeyId"))) != std::string::npos);  // not a secret
  // No piece of the private key, raw or base64.
  CHECK(r.err.find(issued.key_pkcs8_der.substr(40, 24)) == std::string::npos);
  CHECK(r.err.find("PRIVATE KEY") == std::string::npos);
  auto json = run(f.args(standin, {"--debug", "--log-format", "json"}));
  REQUIRE(json.exit_code == 0);
  std::size_t lines = 0;
  for (std::size_t pos = 0; pos < json.err.size();) {
    const auto nl = json.err.find('\n', pos);
    const auto line = json.err.substr(pos, nl - pos);
    CHECK(parse_object(line).contains("msg"));
    ++lines;
    pos = nl == std::string::npos ? json.err.size() : nl + 1;
  }
  CHECK(lines >= 2);
}

namespace {

// gpr_dump's hex form ("30 81 87 ..."), as gRPC's tcp trace prints the bytes it reads.
std::string hex_dump(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{}{:02x}", out.empty() ? "" : " ", c);
  return out;
}

}  // namespace

TEST_CASE("gRPC's transport trace is off unless --allow-grpc-trace: no key bytes on stderr") {
  Fixture f;
  const auto issued = f.serve(KeyKind::p256, true);
  StandIn standin(f.pki.root_pem());
  const std::map<std::string, std::string> env{{"GRPC_TRACE", "tcp,http"},
                                               {"GRPC_VERBOSITY", "DEBUG"}};
  // The private scalar of the PKCS#8 key, in the trace's hex form.
  const std::string key_hex = hex_dump(issued.key_pkcs8_der.substr(40, 12));
  auto r = run(f.args(standin), env);
  CAPTURE(r.err.substr(0, 2000));
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find(key_hex) == std::string::npos);
  CHECK(r.err.find(".cc:") == std::string::npos);  // no gRPC log line at all
  CHECK(r.err.find("GRPC_TRACE is ignored") != std::string::npos);

  // The check can see a trace: with the flag, gRPC traces the transport.
  auto traced = run(f.args(standin, {"--allow-grpc-trace"}), env);
  REQUIRE(traced.exit_code == 0);
  CHECK(traced.err.find(".cc:") != std::string::npos);
}

TEST_CASE("a broken stdout pipe ends with exit 1 and one line, not SIGPIPE") {
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());
  // stdout is a pipe whose reader is gone; Python restores SIGPIPE's default in the child.
  std::vector<std::string> argv{
      "python3", "-c",
      "import os, subprocess, sys\n"
      "r, w = os.pipe(); os.close(r)\n"
      "p = subprocess.run(sys.argv[1:], stdout=w, stderr=subprocess.PIPE)\n"
      "sys.stderr.write(p.stderr.decode())\n"
      "sys.exit(p.returncode if p.returncode >= 0 else 128 - p.returncode)\n"};
  for (const auto& a : f.args(standin)) argv.push_back(a);
  auto r = run(argv);
  CAPTURE(r.err);
  CHECK(r.exit_code == 1);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find("cannot write the credentials to stdout: Broken pipe") != std::string::npos);
}

TEST_CASE("the daemon is not dumpable and has no core limit, unless --allow-core-dumps") {
  if (geteuid() != 0) {
    MESSAGE("skipped (not root: the daemon must run as another user to tell dumpable apart)");
    return;
  }
  // A non-dumpable process's /proc/<pid> files belong to root; a dumpable one's to its user.
  TempDir dir;
  REQUIRE(chmod(dir.path().c_str(), 0755) == 0);
  const std::string out = dir.file("out");
  REQUIRE(mkdir(out.c_str(), 0700) == 0);
  REQUIRE(chown(out.c_str(), 65534, 65534) == 0);
  for (bool allow : {false, true}) {
    CAPTURE(allow);
    std::vector<std::string> argv{"setpriv",
                                  "--reuid=65534",
                                  "--regid=65534",
                                  "--clear-groups",
                                  binary_path(),
                                  "x509-credential-file",
                                  "--trust-anchor-arn",
                                  kTrustAnchorArn,
                                  "--profile-arn",
                                  kProfileArn,
                                  "--role-arn",
                                  kRoleArn,
                                  "--workload-api-addr",
                                  "unix://" + dir.file("no-agent.sock"),
                                  "--aws-credentials-path",
                                  out + "/credentials"};
    if (allow) argv.push_back("--allow-core-dumps");
    const std::string log = dir.file(allow ? "allow.log" : "deny.log");
    Child daemon(argv, {}, log);
    REQUIRE(eventually([&] { return read_file(log).find("keeping") != std::string::npos; },
                       seconds(10)));
    const std::string proc = "/proc/" + std::to_string(daemon.pid());
    struct stat st {};
    REQUIRE(stat((proc + "/status").c_str(), &st) == 0);
    CHECK(st.st_uid == (allow ? 65534u : 0u));
    if (!allow) {  // with the flag, the limit is whatever the test runner's was
      const std::string limits = read_file(proc + "/limits");
      CHECK(std::regex_search(limits, std::regex("Max core file size +0 +0 ")));
    }
    CHECK(daemon.stop() == 0);
  }
}

TEST_CASE("bad command lines: exit 2, the flag named, nothing on stdout, no network I/O") {
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--session-duration", "899"}, "--session-duration"},
      {{"--session-duration", "43201"}, "--session-duration"},
      {{"--session-duration", "abc"}, "--session-duration"},
      {{"--role-session-name", "x"}, "--role-session-name"},
      {{"--role-session-name", "has space"}, "--role-session-name"},
      {{"--region", "eu-west-1"}, "--region"},
      {{"--endpoint", "ftp://x"}, "--endpoint"},
      {{"--workload-api-addr", "tcp://localhost:1"}, "--workload-api-addr"},
      {{"--log-level", "verbose"}, "--log-level"},
      {{"--unknown-flag"}, "--unknown-flag"},
      {{"--timeout", "0"}, "--timeout"},
  };
  for (const auto& [extra, needle] : cases) {
    CAPTURE(needle);
    auto r = run(f.args(standin, extra));
    check_failure(r, needle, 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  auto missing = run({binary_path(), "x509-credential-process", "--profile-arn", kProfileArn,
                      "--role-arn", kRoleArn});
  check_failure(missing, "--trust-anchor-arn is required", 2);
  auto bad_arn = run({binary_path(), "x509-credential-process", "--trust-anchor-arn",
                      "arn:aws:iam::123456789012:role/x", "--profile-arn", kProfileArn,
                      "--role-arn", kRoleArn});
  check_failure(bad_arn, "--trust-anchor-arn", 2);
  auto no_socket = run({binary_path(), "x509-credential-process", "--trust-anchor-arn",
                        kTrustAnchorArn, "--profile-arn", kProfileArn, "--role-arn", kRoleArn},
                       {{"SPIFFE_ENDPOINT_SOCKET", "\x01"}});
  check_failure(no_socket, "SPIFFE_ENDPOINT_SOCKET", 2);
  CHECK(standin.records().empty());
  CHECK(f.agent.calls() == 0);

  auto help = run({binary_path(), "x509-credential-process", "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("--trust-anchor-arn") != std::string::npos);
  auto version = run({binary_path(), "--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.find("aws-spiffe-workload-helper") != std::string::npos);
}
