#include <doctest/doctest.h>
#include <openssl/x509.h>

#include <boost/json/parse.hpp>

#include "aws/errors.hpp"
#include "aws/rolesanywhere.hpp"
#include "test_pki.hpp"

using namespace awh;

namespace {

net::HttpResponse response(unsigned status, std::string body,
                           std::vector<std::pair<std::string, std::string>> headers = {}) {
  return net::HttpResponse{status, std::move(headers), std::move(body)};
}

constexpr char kGood[] =
    R"({"credentialSet":[{"credentials":{"accessKeyId":"ASIAEXAMPLE","secretAccessKey":"s3cr3t",)"
    R"("sessionToken":"tok","expiration":"2025-01-15T10:30:00Z"}}],"subjectArn":"x"})";

}  // namespace

TEST_CASE("amz_date formats UTC as YYYYMMDDTHHMMSSZ") {
  CHECK(aws::amz_date(std::chrono::system_clock::from_time_t(1736933400)) == "20250115T093000Z");
}

TEST_CASE("a CreateSession response yields the credentials, expiration verbatim") {
  auto c = aws::parse_create_session_response(response(201, kGood));
  REQUIRE(c.has_value());
  CHECK(c->access_key_id == "ASIAEXAMPLE");
  CHECK(c->secret_access_key == "s3cr3t");
  CHECK(c->session_token == "tok");
  CHECK(c->expiration == "2025-01-15T10:30:00Z");
  CHECK(aws::parse_create_session_response(response(200, kGood)).has_value());
}

TEST_CASE("malformed or incomplete responses are protocol errors, never crashes") {
  for (
      const char* body :
      {"", "{", "[]", "null", R"({"credentialSet":[)", R"({"credentialSet":{}})",
       R"({"credentialSet":[]})", R"({"credentialSet":[1]})",
       R"({"credentialSet":[{"credentials":"x"}]})",
       R"({"credentialSet":[{"credentials":{"accessKeyId":"a","secretAccessKey":"b","expiration":"e"}}]})",
       R"({"credentialSet":[{"credentials":{"accessKeyId":1,"secretAccessKey":"b","sessionToken":"t","expiration":"e"}}]})"}) {
    CAPTURE(body);
    auto c = aws::parse_create_session_response(response(201, body));
    REQUIRE_FALSE(c.has_value());
    CHECK(c.error().cls == errc::protocol);
    CHECK_FALSE(c.error().retryable());
  }
  auto missing = aws::parse_create_session_response(response(
      201,
      R"({"credentialSet":[{"credentials":{"accessKeyId":"a","secretAccessKey":"b","expiration":"e"}}]})"));
  CHECK(missing.error().message.find("sessionToken") != std::string::npos);
}

TEST_CASE("AWS error codes are classified in one place for both protocols") {
  for (const char* code : {"Throttling", "ThrottlingException", "TooManyRequestsException",
                           "RequestLimitExceeded", "SlowDown", "RequestThrottledException"}) {
    CAPTURE(code);
    CHECK(aws::is_throttling_code(code));
    CHECK(aws::classify_aws_error(400, code) == errc::throttled);
  }
  CHECK(aws::classify_aws_error(429, "") == errc::throttled);
  CHECK(aws::classify_aws_error(503, "ServiceUnavailable") == errc::server);
  CHECK(aws::classify_aws_error(400, "IDPCommunicationError") == errc::server);
  CHECK(aws::classify_aws_error(403, "AccessDeniedException") == errc::denied);
  CHECK_FALSE(aws::is_throttling_code("AccessDenied"));
  // A peer's code and message are escaped and bounded before they reach a log line.
  const auto e = aws::make_aws_error(500, "Bad\nCode", std::string(2000, 'x') + "\x1b[31m");
  CHECK(e.message.find('\n') == std::string::npos);
  CHECK(e.message.find("Bad\\nCode: ") == 0);
  CHECK(e.message.size() < 700);
  CHECK(e.aws_code == "Bad\\nCode");
  CHECK(aws::make_aws_error(502, "", "gateway").message == "HTTP 502: gateway (HTTP 502)");
  // The same for a whole CreateSession answer: a hostile peer's 10 kB message with escapes.
  const auto r = aws::parse_create_session_response(
      response(403, R"({"message":")" + std::string(10000, 'm') + R"(\u001b[2J\nforged"})",
               {{"X-Amzn-ErrorType", std::string(5000, 'C') + "\r\n"}}));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.size() < 700);
  CHECK(r.error().message.find('\n') == std::string::npos);
  CHECK(r.error().message.find('\x1b') == std::string::npos);
}

TEST_CASE("AWS errors carry code and message and are classified") {
  auto denied =
      aws::aws_error(response(403, R"({"message":"Invalid signature"})",
                              {{"x-amzn-errortype", "AccessDeniedException:http://internal"}}));
  CHECK(denied.message == "AccessDeniedException: Invalid signature (HTTP 403)");
  CHECK(denied.cls == errc::denied);
  CHECK_FALSE(denied.retryable());
  // The original codes travel with the error, for callers and metrics.
  CHECK(denied.http_status == 403);
  CHECK(denied.aws_code == "AccessDeniedException");

  auto typed = aws::aws_error(
      response(400, R"({"__type":"com.amazon#ValidationException","Message":"bad"})"));
  CHECK(typed.message == "ValidationException: bad (HTTP 400)");

  auto throttled = aws::aws_error(
      response(400, R"({"message":"slow"})", {{"X-Amzn-ErrorType", "ThrottlingException"}}));
  CHECK(throttled.cls == errc::throttled);
  CHECK(throttled.retryable());
  CHECK(throttled.http_status == 400);
  CHECK(throttled.aws_code == "ThrottlingException");
  CHECK(aws::aws_error(response(429, "")).retryable());

  auto server = aws::aws_error(response(503, "<html>oops</html>"));
  CHECK(server.cls == errc::server);
  CHECK(server.retryable());
  CHECK(server.message == "HTTP 503: no error message in the response (HTTP 503)");

  auto via_parse = aws::parse_create_session_response(response(
      403, R"({"message":"Invalid signature"})", {{"X-Amzn-ErrorType", "AccessDeniedException"}}));
  CHECK(via_parse.error().message == "AccessDeniedException: Invalid signature (HTTP 403)");
}

TEST_CASE("build_create_session signs exactly the documented headers") {
  testpeers::TestPki pki;
  auto issued = pki.issue("spiffe://example.org/w", testpeers::KeyKind::p256, true);
  const auto* p = reinterpret_cast<const unsigned char*>(issued.key_pkcs8_der.data());
  crypto::PkeyPtr key(
      d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(issued.key_pkcs8_der.size())));
  REQUIRE(key);
  auto url = net::parse_url("https://rolesanywhere.us-east-1.amazonaws.com");
  REQUIRE(url.has_value());
  aws::CreateSessionParams params{"arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/ta",
                                  "arn:aws:rolesanywhere:us-east-1:123456789012:profile/p",
                                  "arn:aws:iam::123456789012:role/a+b=c",
                                  "us-east-1",
                                  900,
                                  "sess"};

  SUBCASE("with an intermediate") {
    aws::SigningIdentity id{
        key.get(), issued.leaf_der, {pki.intermediate_der()}, issued.serial_decimal};
    auto r = aws::build_create_session(params, *url, id,
                                       std::chrono::system_clock::from_time_t(1736933400));
    REQUIRE(r.has_value());
    CHECK(r->signature.signed_headers ==
          "content-type;host;x-amz-date;x-amz-x509;x-amz-x509-chain");
    CHECK(r->request.method == "POST");
    CHECK(
        r->request.target ==
        "/sessions?profileArn=arn%3Aaws%3Arolesanywhere%3Aus-east-1%3A123456789012%3Aprofile%2Fp"
        "&roleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fa%2Bb%3Dc"
        "&trustAnchorArn=arn%3Aaws%3Arolesanywhere%3Aus-east-1%3A123456789012%3Atrust-anchor%2Fta");
    CHECK(r->request.body == R"({"durationSeconds":900,"roleSessionName":"sess"})");
    net::HttpResponse headers{0, r->request.headers, ""};
    CHECK(headers.header("Host") == "rolesanywhere.us-east-1.amazonaws.com");
    CHECK(headers.header("X-Amz-Date") == "20250115T093000Z");
    CHECK(headers.header("X-Amz-X509") == crypto::base64(issued.leaf_der));
    CHECK(headers.header("X-Amz-X509-Chain") == crypto::base64(pki.intermediate_der()));
    CHECK(headers.header("Authorization")
              .rfind("AWS4-X509-ECDSA-SHA256 Credential=" + issued.serial_decimal +
                         "/20250115/us-east-1/rolesanywhere/aws4_request, ",
                     0) == 0);
  }
  SUBCASE("without an intermediate, no chain header, no session name") {
    params.role_session_name.reset();
    aws::SigningIdentity id{key.get(), issued.leaf_der, {}, issued.serial_decimal};
    auto r = aws::build_create_session(params, *url, id, std::chrono::system_clock::now());
    REQUIRE(r.has_value());
    CHECK(r->signature.signed_headers == "content-type;host;x-amz-date;x-amz-x509");
    CHECK(net::HttpResponse{0, r->request.headers, ""}.header("X-Amz-X509-Chain").empty());
    CHECK(r->request.body == R"({"durationSeconds":900})");
  }
  SUBCASE("a non-default port is part of Host; a base path prefixes /sessions") {
    auto local = net::parse_url("https://127.0.0.1:8443/ra/");
    REQUIRE(local.has_value());
    aws::SigningIdentity id{key.get(), issued.leaf_der, {}, issued.serial_decimal};
    auto r = aws::build_create_session(params, *local, id, std::chrono::system_clock::now());
    REQUIRE(r.has_value());
    CHECK(net::HttpResponse{0, r->request.headers, ""}.header("Host") == "127.0.0.1:8443");
    CHECK(r->request.target.rfind("/ra/sessions?", 0) == 0);
  }
  SUBCASE("more than five intermediates is refused") {
    aws::SigningIdentity id{key.get(), issued.leaf_der,
                            std::vector<std::string>(6, pki.intermediate_der()),
                            issued.serial_decimal};
    auto r = aws::build_create_session(params, *url, id, std::chrono::system_clock::now());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("at most 5") != std::string::npos);
  }
}
