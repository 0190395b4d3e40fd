// End-to-end tests of the diagnostics around an exchange: `--dry-run` (the signed request,
// printed, nothing sent) and `whoami` (the exchange, then STS GetCallerIdentity with the new
// credentials, against moto).
#include <doctest/doctest.h>

#include <filesystem>

#include "fixture.hpp"
#include "moto.hpp"

using namespace awh;
using namespace awh::itest;
using std::chrono::seconds;

namespace {

const std::string kSubject = "spiffe://example.org/jwt-workload";
const std::string kJwtRole = "arn:aws:iam::123456789012:role/jwt-role";

// Replays a --dry-run text through the Roles Anywhere stand-in's own verifier
// (verify_request(), independent of our signing code): prints "ok" or the error.
const char kReplay[] = R"PY(
import sys
sys.path.insert(0, sys.argv[1])
import rolesanywhere_standin as s
text = open(sys.argv[2]).read()
lines = text.split("\n")
assert lines[0].startswith("# dry run with "), lines[0]
method, url = lines[1].split(" ", 1)
target = "/" + url.split("/", 3)[3]
headers, i = [], 2
while lines[i]:
    name, value = lines[i].split(": ", 1)
    headers.append((name, value))
    i += 1
body = lines[i + 1].encode()
anchors = s.load_pem_certs(sys.argv[3])
ok, error, info = s.verify_request(method, target, headers, body, config=s.Config(trust_anchors=anchors))
print("ok" if ok else f"{error} {info['detail']}")
)PY";

// Standard base64 (what a leaked DER key would look like in the text).
std::string base64(std::string_view in) {
  std::string out = base64url(in);
  for (char& c : out) c = c == '-' ? '+' : c == '_' ? '/' : c;
  return out;
}

}  // namespace

TEST_CASE("--dry-run prints the signed CreateSession request, sends nothing, shows no key") {
  Fixture f;
  const auto issued = f.serve(KeyKind::p256, true);
  StandIn standin(f.pki.root_pem());
  auto r = run(f.args(standin, {"--dry-run", "--role-session-name", "dry"}));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(standin.records().empty());  // nothing was sent
  CHECK(r.out.rfind("# dry run with X.509-SVID spiffe://example.org/workload (serial " +
                        issued.serial_decimal + "): this request was not sent\n",
                    0) == 0);
  CHECK(r.out.find("\nPOST " + standin.endpoint() + "/sessions?profileArn=") != std::string::npos);
  for (const char* part :
       {"\nContent-Type: application/json\n", "\nX-Amz-Date: ", "\nX-Amz-X509: ",
        "\nX-Amz-X509-Chain: ", "\nAuthorization: AWS4-X509-ECDSA-SHA256 Credential=",
        "\n{\"durationSeconds\":3600,\"roleSessionName\":\"dry\"}\n",
        "\n-- canonical request --\nPOST\n/sessions\n",
        "\ncontent-type;host;x-amz-date;x-amz-x509;x-amz-x509-chain\n",
        "\n-- string to sign --\nAWS4-X509-ECDSA-SHA256\n"}) {
    CAPTURE(part);
    CHECK(r.out.find(part) != std::string::npos);
  }
  CHECK(r.out.find("PRIVATE KEY") == std::string::npos);
  CHECK(r.out.find(base64(issued.key_pkcs8_der)) == std::string::npos);

  // The printed request verifies: its signature and chain are what CreateSession would accept.
  write_file(f.dir.file("dry.txt"), r.out);
  write_file(f.dir.file("root.pem"), f.pki.root_pem());
  auto v = run({"python3", "-c", kReplay, source_root() + "/test/peers", f.dir.file("dry.txt"),
                f.dir.file("root.pem")});
  CAPTURE(v.err);
  CHECK(v.out == "ok\n");

  // The file commands: nothing is written.
  auto file = run(f.args(standin, {"--dry-run", "--aws-credentials-path", f.dir.file("creds")},
                         "x509-credential-file-oneshot"));
  CHECK(file.exit_code == 0);
  CHECK(file.out.find("-- string to sign --") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(f.dir.file("creds")));
  CHECK(standin.records().empty());
}

TEST_CASE("--dry-run for the JWT path: the JWT without its signature; nothing sent") {
  Fixture f;
  const std::string token = make_jwt(kSubject, kAudience);
  f.agent.set_jwt_svids({{kSubject, token, ""}});
  StsStandIn sts;
  auto r = run(f.jwt_args(sts.endpoint(), {"--dry-run", "--role-arn", kJwtRole}));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(sts.records().empty());
  const std::string signature = token.substr(token.rfind('.') + 1);
  const std::string unsigned_part = token.substr(0, token.rfind('.') + 1);
  CHECK(r.out.find(signature) == std::string::npos);
  CHECK(r.err.find(signature) == std::string::npos);
  CHECK(r.out.find("\nPOST " + sts.endpoint() + "/\n") != std::string::npos);
  CHECK(r.out.find("Action=AssumeRoleWithWebIdentity&Version=2011-06-15") != std::string::npos);
  CHECK(r.out.find("&WebIdentityToken=" + unsigned_part + "%3Csignature%20redacted%3E\n") !=
        std::string::npos);
}

TEST_CASE("whoami: Roles Anywhere, then GetCallerIdentity at moto's STS") {
  Fixture f;
  f.serve(KeyKind::rsa2048, true);
  StandIn standin(f.pki.root_pem());
  Moto moto(f.dir);
  auto r = run(f.args(standin, {"--sts-endpoint", moto.endpoint()}, "whoami"));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(standin.records().size() == 1);
  // moto answers for keys it did not issue with its default user.
  CHECK(r.out.rfind("Account: 123456789012\nArn:     arn:aws:sts::123456789012:", 0) == 0);
  CHECK(r.out.find("\nUserId:  ") != std::string::npos);
  const auto issued = parse_object(standin.records().back()).at("credentials").as_object();
  CHECK(r.out.find(str(issued.at("secretAccessKey"))) == std::string::npos);
  CHECK(r.err.find(str(issued.at("sessionToken"))) == std::string::npos);

  auto json = run(f.args(standin, {"--format", "json"}, "x509-whoami"),
                  {{"AWS_ENDPOINT_URL_STS", moto.endpoint()}});
  CAPTURE(json.err);
  REQUIRE(json.exit_code == 0);
  const auto o = parse_object(json.out);
  CHECK(str(o.at("Account")) == "123456789012");
  CHECK(str(o.at("Arn")).rfind("arn:aws:sts::123456789012:", 0) == 0);
  CHECK_FALSE(str(o.at("UserId")).empty());

  // A refused exchange: exit 1, the AWS error, nothing on stdout.
  StandIn deny(f.pki.root_pem(), {{"--mode", "deny"}});
  check_failure(run(f.args(deny, {"--sts-endpoint", moto.endpoint()}, "whoami")),
                "AccessDeniedException: Unable to assume role");
}

TEST_CASE(
    "jwt-whoami: AssumeRoleWithWebIdentity, then GetCallerIdentity at a moto that checks its "
    "signature") {
  Fixture f;
  f.agent.set_jwt_svids({{kSubject, make_jwt(kSubject, kAudience), ""}});
  // The first request (AssumeRoleWithWebIdentity, unsigned) goes through; moto verifies the
  // SigV4 signature of every later one against the credentials it issued (SignatureDoesNotMatch
  // otherwise).
  Moto moto(f.dir, {{"INITIAL_NO_AUTH_ACTION_COUNT", "1"}});
  auto r = run(f.jwt_args(moto.endpoint(), {"--role-arn", kJwtRole, "--role-session-name", "who"},
                          "jwt-whoami"));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.rfind("Account: 123456789012\n"
                    "Arn:     arn:aws:sts::123456789012:assumed-role/jwt-role/who\n"
                    "UserId:  ",
                    0) == 0);

  // The control: such a moto refuses a GetCallerIdentity signed with the wrong secret (a moto of
  // its own: after the first request, moto also wants AssumeRoleWithWebIdentity signed).
  Moto checking(f.dir, {{"INITIAL_NO_AUTH_ACTION_COUNT", "1"}});
  const std::string tamper =
      "import sys, boto3\n"
      "from botocore import UNSIGNED\n"
      "from botocore.config import Config\n"
      "e = sys.argv[1]\n"
      "c = boto3.client('sts', endpoint_url=e, region_name='us-east-1',\n"
      "    config=Config(signature_version=UNSIGNED)).assume_role_with_web_identity(\n"
      "    RoleArn='" +
      kJwtRole +
      "', RoleSessionName='x1', WebIdentityToken='a.b.c')['Credentials']\n"
      "bad = boto3.client('sts', endpoint_url=e, region_name='us-east-1',\n"
      "    aws_access_key_id=c['AccessKeyId'], aws_secret_access_key='wrong',\n"
      "    aws_session_token=c['SessionToken'])\n"
      "try:\n"
      "    bad.get_caller_identity()\n"
      "    print('accepted')\n"
      "except Exception as x:\n"
      "    print(type(x).__name__, x.response['Error']['Code'])\n";
  auto control = run({"python3", "-c", tamper, checking.endpoint()});
  CAPTURE(control.err);
  CHECK(control.out == "ClientError SignatureDoesNotMatch\n");
}
