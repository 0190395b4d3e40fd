// End-to-end tests of `x509-credential-process`: the built binary against the in-process fake
// Workload API and the Python Roles Anywhere stand-in, which verifies every request on its own.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
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
