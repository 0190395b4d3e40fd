// End-to-end tests of the read-only diagnostics `x509-svids` and `jwt-svids`: the built binary
// against the fake Workload API serving several SVIDs. The certificate facts are computed
// independently by pyca/cryptography (cert_facts.py) from PEMs of the chains the test PKI issued.
#include <doctest/doctest.h>

#include "fixture.hpp"

using namespace awh;
using namespace awh::itest;
using std::chrono::seconds;

namespace {

struct Served {
  std::string id, hint;
  KeyKind kind;
  bool intermediate;
};

// Three X.509-SVIDs of different kinds, served in this order.
const std::vector<Served> kServed = {
    {"spiffe://example.org/alpha", "db", KeyKind::p256, true},
    {"spiffe://example.org/beta", "web", KeyKind::rsa2048, false},
    {"spiffe://example.org/gamma", "", KeyKind::p384, true},
};

struct X509Setup {
  Fixture f;
  boost::json::array facts;  // from cert_facts.py, in kServed's order

  X509Setup() {
    std::vector<testpeers::FakeSvid> svids;
    std::vector<std::string> argv{"python3", source_root() + "/test/integration/cert_facts.py"};
    for (std::size_t i = 0; i < kServed.size(); ++i) {
      const auto& s = kServed[i];
      auto issued = f.pki.issue(s.id, s.kind, s.intermediate);
      svids.push_back(
          {issued.spiffe_id, issued.chain_der, issued.key_pkcs8_der, f.pki.root_der(), s.hint});
      const auto pem = f.dir.file("chain" + std::to_string(i) + ".pem");
      write_file(pem, testpeers::der_to_pem_cert(issued.chain_der));
      argv.push_back(pem);
    }
    f.agent.set_svids(std::move(svids));
    const auto r = run(argv);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    boost::system::error_code ec;
    auto v = boost::json::parse(r.out, ec);
    REQUIRE(!ec);
    facts = v.as_array();
  }

  std::vector<std::string> args(const std::string& command, std::vector<std::string> extra) const {
    std::vector<std::string> a{binary_path(),         command,
                               "--workload-api-addr", "unix://" + f.dir.file("agent.sock"),
                               "--timeout",           "10"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

std::optional<std::int64_t> selected_of(const boost::json::object& o) {
  if (o.at("selected").is_null()) return std::nullopt;
  return o.at("selected").to_number<std::int64_t>();
}

// A JWT with the given header fields and claims (unsigned: we are not the relying party).
std::string jwt(const std::string& kid, const std::string& alg, const std::string& sub,
                const std::string& aud_json, std::int64_t exp, std::int64_t iat) {
  const std::string header = R"({"alg":")" + alg + R"(","kid":")" + kid + R"(","typ":"JWT"})";
  const std::string payload = R"({"sub":")" + sub + R"(","aud":)" + aud_json + R"(,"exp":)" +
                              std::to_string(exp) + R"(,"iat":)" + std::to_string(iat) + "}";
  return base64url(header) + "." + base64url(payload) + "." + base64url("signature-bytes-xyz");
}

std::string rfc3339(std::int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

TEST_CASE("x509-svids --format json lists every SVID with facts matching pyca/cryptography") {
  X509Setup s;
  const auto r = run(s.args("x509-svids", {"--format", "json"}));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const auto o = parse_object(r.out);
  const auto& svids = o.at("svids").as_array();
  REQUIRE(svids.size() == kServed.size());
  for (std::size_t i = 0; i < kServed.size(); ++i) {
    CAPTURE(i);
    const auto& got = svids[i].as_object();
    const auto& want = s.facts[i].as_object();
    CHECK(str(got.at("spiffe_id")) == kServed[i].id);
    CHECK(str(got.at("hint")) == kServed[i].hint);
    for (const char* key : {"serial", "serial_hex", "not_before", "not_after", "key_type"}) {
      CAPTURE(key);
      CHECK(str(got.at(key)) == str(want.at(key)));
    }
    CHECK(got.at("key_bits").to_number<std::int64_t>() ==
          want.at("key_bits").to_number<std::int64_t>());
    CHECK(got.at("chain_length").to_number<std::int64_t>() ==
          want.at("chain_length").to_number<std::int64_t>());
    if (want.at("key_curve").is_null()) {
      CHECK(got.at("key_curve").is_null());
    } else {
      CHECK(str(got.at("key_curve")) == str(want.at("key_curve")));
    }
    CHECK(got.at("problem").is_null());
  }
  // No selector: the first SVID.
  CHECK(selected_of(o) == 0);
  CHECK(str(o.at("selection")).find("first SVID") != std::string::npos);
  // Public data only: no private key material in any form.
  CHECK(r.out.find("PRIVATE") == std::string::npos);
}

TEST_CASE("x509-svids shows what --hint and --spiffe-id would select") {
  X509Setup s;
  SUBCASE("--hint") {
    const auto o =
        parse_object(run(s.args("x509-svids", {"--format", "json", "--hint", "web"})).out);
    CHECK(selected_of(o) == 1);
    CHECK(str(o.at("selection")).find("--hint 'web'") != std::string::npos);
  }
  SUBCASE("--spiffe-id") {
    const auto o = parse_object(
        run(s.args("x509-svids", {"--format", "json", "--spiffe-id", "spiffe://example.org/gamma"}))
            .out);
    CHECK(selected_of(o) == 2);
  }
  SUBCASE("both must match") {
    const auto r = run(s.args("x509-svids", {"--format", "json", "--spiffe-id",
                                             "spiffe://example.org/alpha", "--hint", "web"}));
    CHECK(r.exit_code == 0);  // the listing worked; the selection's outcome is in it
    const auto o = parse_object(r.out);
    CHECK(!selected_of(o));
    const auto selection = str(o.at("selection"));
    CHECK(selection.find("no SVID matches") != std::string::npos);
    CHECK(selection.find("spiffe://example.org/beta (hint 'web')") != std::string::npos);
  }
}

TEST_CASE("x509-svids text: one block per SVID, the selected one marked") {
  X509Setup s;
  const auto r = run(s.args("x509-svids", {"--hint", "web"}));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CAPTURE(r.out);
  CHECK(r.out.rfind("3 X.509-SVIDs from the Workload API\n"
                    "selected: [1], the first SVID matching --hint 'web'\n",
                    0) == 0);
  CHECK(r.out.find("[1] spiffe://example.org/beta   <- selected\n") != std::string::npos);
  CHECK(r.out.find("[0] spiffe://example.org/alpha\n") != std::string::npos);
  const auto& beta = s.facts[1].as_object();
  CHECK(r.out.find("serial      " + str(beta.at("serial")) + " (hex " + str(beta.at("serial_hex")) +
                   ")\n") != std::string::npos);
  CHECK(r.out.find("key         RSA (2048 bits)\n") != std::string::npos);
  CHECK(r.out.find("key         EC P-384 (384 bits)\n") != std::string::npos);
  CHECK(r.out.find("chain       2 certificates (leaf + 1 intermediate)\n") != std::string::npos);
  CHECK(r.out.find("chain       1 certificate (leaf + 0 intermediates)\n") != std::string::npos);
  CHECK(r.out.find("not after   " + str(beta.at("not_after")) + "\n") != std::string::npos);
}

TEST_CASE("x509-svids: an unusable SVID is listed with the reason") {
  Fixture f;
  auto good = f.pki.issue("spiffe://example.org/good", KeyKind::p256, true);
  auto other = f.pki.issue("spiffe://example.org/other", KeyKind::p256, true);
  // The key of another SVID: the helper would refuse it.
  f.agent.set_svids(
      {{good.spiffe_id, good.chain_der, other.key_pkcs8_der, f.pki.root_der(), ""},
       {other.spiffe_id, other.chain_der, other.key_pkcs8_der, f.pki.root_der(), ""}});
  const auto r = run({binary_path(), "x509-svids", "--format", "json", "--workload-api-addr",
                      "unix://" + f.dir.file("agent.sock")});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const auto o = parse_object(r.out);
  const auto& svids = o.at("svids").as_array();
  REQUIRE(svids.size() == 2);
  CHECK(str(svids[0].as_object().at("problem")).find("does not match the leaf") !=
        std::string::npos);
  CHECK(str(svids[0].as_object().at("serial")) == good.serial_decimal);
  CHECK(svids[1].as_object().at("problem").is_null());
}

TEST_CASE("x509-svids: no identity within --timeout is one error line, exit 1") {
  Fixture f;
  f.agent.set_no_identity(true);
  const auto r = run({binary_path(), "x509-svids", "--timeout", "1", "--workload-api-addr",
                      "unix://" + f.dir.file("agent.sock")});
  check_failure(r, "cannot get the X.509-SVIDs:");
}

TEST_CASE("jwt-svids: subject, audience, expiry, alg and key id; never the token") {
  Fixture f;
  const auto now =
      std::chrono::duration_cast<seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const auto a = jwt("key-1", "ES256", "spiffe://example.org/alpha",
                     R"(["sts.amazonaws.com","other"])", now + 300, now - 5);
  const auto b = jwt("key-2", "RS256", "spiffe://example.org/beta", R"("sts.amazonaws.com")",
                     now + 600, now - 7);
  const auto expired = jwt("key-3", "ES384", "spiffe://example.org/gamma",
                           R"(["sts.amazonaws.com"])", now - 60, now - 400);
  f.agent.set_jwt_svids({{"spiffe://example.org/alpha", a, "db"},
                         {"spiffe://example.org/beta", b, "web"},
                         {"spiffe://example.org/gamma", expired, ""}});
  const std::vector<std::string> base{binary_path(),         "jwt-svids",
                                      "--audience",          kAudience,
                                      "--workload-api-addr", "unix://" + f.dir.file("agent.sock")};

  SUBCASE("json") {
    auto args = base;
    args.insert(args.end(), {"--format", "json", "--hint", "web"});
    const auto r = run(args);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    CHECK(f.agent.last_jwt_audiences() == std::vector<std::string>{kAudience});
    const auto o = parse_object(r.out);
    CHECK(selected_of(o) == 1);
    const auto& svids = o.at("svids").as_array();
    REQUIRE(svids.size() == 3);
    const auto& first = svids[0].as_object();
    CHECK(str(first.at("spiffe_id")) == "spiffe://example.org/alpha");
    CHECK(str(first.at("hint")) == "db");
    CHECK(str(first.at("subject")) == "spiffe://example.org/alpha");
    CHECK(first.at("audience").as_array().size() == 2);
    CHECK(str(first.at("audience").as_array()[1]) == "other");
    CHECK(str(first.at("expires")) == rfc3339(now + 300));
    CHECK(str(first.at("issued_at")) == rfc3339(now - 5));
    CHECK(str(first.at("alg")) == "ES256");
    CHECK(str(first.at("kid")) == "key-1");
    CHECK(first.at("problem").is_null());
    const auto& second = svids[1].as_object();
    CHECK(str(second.at("audience").as_array()[0]) == kAudience);
    CHECK(str(second.at("kid")) == "key-2");
    CHECK(str(second.at("alg")) == "RS256");
    CHECK(str(svids[2].as_object().at("problem")).find("expired at " + rfc3339(now - 60)) !=
          std::string::npos);
    // Never the token, any part of its encoding, or its signature.
    for (const auto& token : {a, b, expired}) {
      for (std::size_t start = 0, dot = 0; dot != std::string::npos; start = dot + 1) {
        dot = token.find('.', start);
        const auto part = token.substr(start, dot == std::string::npos ? dot : dot - start);
        CHECK(r.out.find(part) == std::string::npos);
        CHECK(r.err.find(part) == std::string::npos);
      }
    }
  }
  SUBCASE("text") {
    auto args = base;
    args.insert(args.end(), {"--spiffe-id", "spiffe://example.org/beta"});
    const auto r = run(args);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    CAPTURE(r.out);
    // --spiffe-id is sent to the agent, as the exchange commands do: only that identity comes.
    CHECK(f.agent.last_jwt_spiffe_id() == "spiffe://example.org/beta");
    CHECK(r.out.rfind("1 JWT-SVID from the Workload API\n"
                      "selected: [0], the first SVID matching --spiffe-id "
                      "spiffe://example.org/beta\n",
                      0) == 0);
    CHECK(r.out.find("[0] spiffe://example.org/beta   <- selected\n") != std::string::npos);
    CHECK(r.out.find("expires     " + rfc3339(now + 600) + "\n") != std::string::npos);
    CHECK(r.out.find("key id      key-2\n") != std::string::npos);
    CHECK(r.out.find(b.substr(b.rfind('.') + 1)) == std::string::npos);
  }
}

TEST_CASE("jwt-svids needs --audience; --format takes text or json") {
  const auto no_audience =
      run({binary_path(), "jwt-svids", "--workload-api-addr", "unix:///tmp/none.sock"});
  check_failure(no_audience, "--audience is required", 2);
  const auto bad_format = run(
      {binary_path(), "x509-svids", "--format", "yaml", "--workload-api-addr", "unix:///tmp/x"});
  check_failure(bad_format, "--format", 2);
  // The exchange flags are not the diagnostics' flags.
  const auto foreign = run({binary_path(), "x509-svids", "--role-arn", kRoleArn,
                            "--workload-api-addr", "unix:///tmp/x"});
  check_failure(foreign, "--role-arn", 2);
}
