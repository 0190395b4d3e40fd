// SigV4 with an HMAC key (aws/sigv4.hpp), against AWS's published Signature Version 4 test
// suite ("get-vanilla", "post-x-www-form-urlencoded": credentials AKIDEXAMPLE, region us-east-1,
// service "service", 20150830T123600Z), and the STS GetCallerIdentity request `whoami` sends;
// plus the --dry-run text (aws/request_text.hpp).
#include <doctest/doctest.h>

#include <chrono>

#include "aws/request_text.hpp"
#include "aws/sigv4.hpp"
#include "aws/sts.hpp"
#include "crypto/openssl.hpp"

using namespace awh;

namespace {

constexpr char kSuiteKeyId[] = "AKIDEXAMPLE";
constexpr char kSuiteSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

// 2015-08-30T12:36:00Z
std::chrono::system_clock::time_point suite_time() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1440938160));
}

net::Url url(std::string_view text) {
  auto u = net::parse_url(text);
  REQUIRE(u.has_value());
  return *u;
}

}  // namespace

TEST_CASE("HMAC-SHA256: RFC 4231 test case 2") {
  CHECK(crypto::hex(crypto::hmac_sha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("SigV4 test suite: get-vanilla") {
  aws::SigningInput in;
  in.method = "GET";
  in.path = "/";
  in.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  in.amz_date = "20150830T123600Z";
  in.region = "us-east-1";
  const auto sig = aws::sign_hmac(in, "service", kSuiteKeyId, kSuiteSecret);
  CHECK(sig.canonical_request ==
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sig.string_to_sign ==
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  CHECK(sig.signature_hex == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  CHECK(sig.authorization ==
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST_CASE("SigV4 test suite: post-x-www-form-urlencoded") {
  aws::SigningInput in;
  in.method = "POST";
  in.path = "/";
  in.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                {"Host", "example.amazonaws.com"},
                {"X-Amz-Date", "20150830T123600Z"}};
  in.body = "Param1=value1";
  in.amz_date = "20150830T123600Z";
  in.region = "us-east-1";
  const auto sig = aws::sign_hmac(in, "service", kSuiteKeyId, kSuiteSecret);
  CHECK(sig.canonical_request ==
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n"
        "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
        "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  CHECK(sig.string_to_sign ==
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281");
  CHECK(sig.signature_hex == "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

// Expected values computed with botocore's SigV4Auth (an implementation we did not write) for
// the same request, credentials and time.
TEST_CASE("GetCallerIdentity: signed with the session token, as botocore signs it") {
  creds::Credentials c;
  c.access_key_id = "ASIAEXAMPLE";
  c.secret_access_key = kSuiteSecret;
  c.session_token = "IQoJb3JpZ2luX2VjEXAMPLE+/=";
  const auto signed_request = aws::build_get_caller_identity(
      url("https://sts.eu-west-1.amazonaws.com"), "eu-west-1", c, suite_time());
  CHECK(signed_request.signature.canonical_request ==
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf-8\n"
        "host:sts.eu-west-1.amazonaws.com\nx-amz-date:20150830T123600Z\n"
        "x-amz-security-token:IQoJb3JpZ2luX2VjEXAMPLE+/=\n\n"
        "content-type;host;x-amz-date;x-amz-security-token\n"
        "ab821ae955788b0e33ebd34c208442ccfc2d406e2edc5e7a39bd6458fbb4f843");
  CHECK(signed_request.signature.string_to_sign ==
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/eu-west-1/sts/aws4_request\n"
        "d8c6cbe9c6454893364a5953c6805519aa044b40ea3d1c044c6004706f0d7cb4");
  CHECK(signed_request.signature.signature_hex ==
        "276292726893a0998cabadf6d9e9021997629fcc4252ef0e28878f4a3c12eb27");
  const auto& r = signed_request.request;
  CHECK(r.method == "POST");
  CHECK(r.target == "/");
  CHECK(r.body == "Action=GetCallerIdentity&Version=2011-06-15");
  bool has_token = false, has_auth = false;
  for (const auto& [name, value] : r.headers) {
    if (name == "X-Amz-Security-Token") has_token = value == c.session_token;
    if (name == "Authorization") {
      has_auth = value ==
                 "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20150830/eu-west-1/sts/aws4_request, "
                 "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "
                 "Signature=276292726893a0998cabadf6d9e9021997629fcc4252ef0e28878f4a3c12eb27";
    }
  }
  CHECK(has_token);
  CHECK(has_auth);
}

TEST_CASE("GetCallerIdentity responses: the three fields, or a clear error") {
  net::HttpResponse ok;
  ok.status = 200;
  ok.body =
      "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
      "<GetCallerIdentityResult><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn>"
      "<UserId>AROAEXAMPLE:s</UserId><Account>123456789012</Account>"
      "</GetCallerIdentityResult></GetCallerIdentityResponse>";
  auto who = aws::parse_get_caller_identity_response(ok);
  REQUIRE(who.has_value());
  CHECK(who->account == "123456789012");
  CHECK(who->arn == "arn:aws:sts::123456789012:assumed-role/r/s");
  CHECK(who->user_id == "AROAEXAMPLE:s");

  net::HttpResponse denied;
  denied.status = 403;
  denied.body =
      "<ErrorResponse><Error><Code>InvalidClientTokenId</Code><Message>The security token "
      "included in the request is invalid.</Message></Error></ErrorResponse>";
  auto e = aws::parse_get_caller_identity_response(denied);
  REQUIRE_FALSE(e.has_value());
  CHECK(e.error().message ==
        "InvalidClientTokenId: The security token included in the request is invalid. (HTTP 403)");

  net::HttpResponse missing = ok;
  missing.body =
      "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>a</Arn>"
      "</GetCallerIdentityResult></GetCallerIdentityResponse>";
  auto m = aws::parse_get_caller_identity_response(missing);
  REQUIRE_FALSE(m.has_value());
  CHECK(m.error().cls == errc::protocol);
}

TEST_CASE("dry-run text: the request line, headers, body, canonical request, string to sign") {
  net::HttpRequest r;
  r.method = "POST";
  r.target = "/sessions?a=b";
  r.headers = {{"Host", "example.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  r.body = "{\"durationSeconds\":900}";
  aws::Signature sig;
  sig.canonical_request = "CANONICAL";
  sig.string_to_sign = "TO SIGN";
  CHECK(aws::request_text(url("https://example.com"), r, &sig) ==
        "POST https://example.com/sessions?a=b\nHost: example.com\nX-Amz-Date: 20150830T123600Z\n"
        "\n{\"durationSeconds\":900}\n\n-- canonical request --\nCANONICAL\n\n"
        "-- string to sign --\nTO SIGN\n");
  CHECK(aws::request_text(url("http://127.0.0.1:8080"), r, nullptr) ==
        "POST http://127.0.0.1:8080/sessions?a=b\nHost: example.com\n"
        "X-Amz-Date: 20150830T123600Z\n\n{\"durationSeconds\":900}\n");
}

TEST_CASE("a JWT is shown without its signature") {
  CHECK(aws::redact_jwt_signature("aGVhZA.cGF5bG9hZA.c2lnbmF0dXJl") ==
        "aGVhZA.cGF5bG9hZA.<signature redacted>");
  CHECK(aws::redact_jwt_signature("not-a-jwt") == "<token redacted>");
  CHECK(aws::redact_jwt_signature("a.b.c.d") == "<token redacted>");
}
