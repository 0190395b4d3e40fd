#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>

#include "aws/sts.hpp"

using namespace awh;

namespace {

net::HttpResponse response(unsigned status, std::string body) {
  return net::HttpResponse{status, {{"Content-Type", "text/xml"}}, std::move(body)};
}

net::Url url(std::string_view text) {
  auto u = net::parse_url(text);
  REQUIRE(u.has_value());
  return *u;
}

constexpr char kSecret[] = "uhqQWDKeADAu72bi+MrtOPlXlaoqGZoteUFPrRjQ";
constexpr char kSessionToken[] =
    "FQoGZXIvYXdzEBYaDbHGIcx+RFNYVhENsvrLmBd7o+AGubDDYU9kDqZOrdKX1H9PRuIE28VVge1Ig82hm+"
    "I8UfkqWljaM1HQ"
    "Z9A6RMSxwwIeIuT9nMg3J9GhdmbHXcuXYKJKEiglEWEsnI27rP+o4kloM8ONBLMAIUPLRrFHzeDGaCgYKBnZ0ZJ/VCSo=";

// What moto_server answers (one line, default namespace); real STS sends the same shape.
std::string moto_success() {
  return std::string(
             R"(<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">)"
             R"(<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIARZPUZDIKFFXTXA3N</AccessKeyId>)"
             R"(<SecretAccessKey>)") +
         kSecret + "</SecretAccessKey><SessionToken>" + kSessionToken +
         R"(</SessionToken><Expiration>2026-11-24T12:45:57.657060Z</Expiration></Credentials>)"
         R"(<AssumedRoleUser><AssumedRoleId>ARO123EXAMPLE123:s</AssumedRoleId>)"
         R"(<Arn>arn:aws:sts::123456789012:assumed-role/web/s</Arn></AssumedRoleUser>)"
         R"(<PackedPolicySize>6</PackedPolicySize></AssumeRoleWithWebIdentityResult>)"
         R"(<ResponseMetadata><RequestId>NC86uXmrnT7Lzy9v4fb2RJ59</RequestId></ResponseMetadata>)"
         R"(</AssumeRoleWithWebIdentityResponse>)";
}

std::string sts_error_xml(std::string_view code, std::string_view message) {
  return fmt::format(
      "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
      "  <Error>\n    <Type>Sender</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n"
      "  </Error>\n  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n"
      "</ErrorResponse>\n",
      code, message);
}

Error failure(const net::HttpResponse& r) {
  auto c = aws::parse_assume_role_with_web_identity_response(r);
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error().message.find(kSecret) == std::string::npos);
  CHECK(c.error().message.find(kSessionToken) == std::string::npos);
  CHECK(c.error().message.find("uhqQWDKeADAu72bi") == std::string::npos);
  CHECK(c.error().message.find("FQoGZXIvYXdz") == std::string::npos);
  return c.error();
}

}  // namespace

TEST_CASE("the request carries every parameter form-encoded in the body, the token last") {
  const std::string token = "eyJ+a/b=.c+d/e==.f/g+h=";
  aws::WebIdentityParams params;
  params.role_arn = "arn:aws:iam::123456789012:role/web/app";
  params.role_session_name = "my session~1";
  params.duration_seconds = 900;
  const auto request = aws::build_assume_role_with_web_identity(
      url("https://sts.us-east-1.amazonaws.com"), params, token);
  CHECK(request.method == "POST");
  CHECK(request.target == "/");
  CHECK(request.body ==
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&DurationSeconds=900"
        "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fweb%2Fapp"
        "&RoleSessionName=my%20session~1"
        "&WebIdentityToken=eyJ%2Ba%2Fb%3D.c%2Bd%2Fe%3D%3D.f%2Fg%2Bh%3D");
  REQUIRE(request.headers.size() == 4);
  CHECK(request.headers[0] ==
        std::pair<std::string, std::string>{"Content-Type",
                                            "application/x-www-form-urlencoded; charset=utf-8"});
  CHECK(request.headers[1] ==
        std::pair<std::string, std::string>{"Host", "sts.us-east-1.amazonaws.com"});
  CHECK(request.headers[2] == std::pair<std::string, std::string>{"Accept", "text/xml"});
  CHECK(request.headers[3].first == "User-Agent");
  CHECK(request.headers[3].second.rfind("aws-spiffe-workload-helper/", 0) == 0);

  // The token stays out of the URL and the headers, encoded or not (proxies log those).
  CHECK(request.target.find("WebIdentityToken") == std::string::npos);
  CHECK(request.target.find('?') == std::string::npos);
  for (const auto& [name, value] : request.headers) {
    CHECK(value.find("eyJ") == std::string::npos);
    CHECK(name.find("eyJ") == std::string::npos);
  }
}

TEST_CASE("without a role ARN or session name only the required parameters are sent") {
  const auto request = aws::build_assume_role_with_web_identity(
      url("http://127.0.0.1:8443/sts/proxy"), aws::WebIdentityParams{}, "a.b.c");
  CHECK(request.target == "/sts/proxy");
  CHECK(request.body ==
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&DurationSeconds=3600&WebIdentityToken="
        "a.b.c");
  CHECK(request.headers[1] == std::pair<std::string, std::string>{"Host", "127.0.0.1:8443"});
  const auto v6 = aws::build_assume_role_with_web_identity(url("http://[::1]:5000"), {}, "t");
  CHECK(v6.target == "/");
  CHECK(v6.headers[1].second == "[::1]:5000");
}

TEST_CASE("an AssumeRoleWithWebIdentity response yields the credentials, Expiration verbatim") {
  auto c = aws::parse_assume_role_with_web_identity_response(response(200, moto_success()));
  REQUIRE_MESSAGE(c.has_value(), (c.has_error() ? c.error().message : ""));
  CHECK(c->access_key_id == "ASIARZPUZDIKFFXTXA3N");
  CHECK(c->secret_access_key == kSecret);
  CHECK(c->session_token == kSessionToken);
  CHECK(c->expiration == "2026-11-24T12:45:57.657060Z");
}

TEST_CASE("elements are matched by local name, whatever the namespace prefix") {
  const std::string body = std::string(R"(<?xml version="1.0" encoding="UTF-8"?>
<sts:AssumeRoleWithWebIdentityResponse xmlns:sts="https://sts.amazonaws.com/doc/2011-06-15/">
  <sts:AssumeRoleWithWebIdentityResult>
    <sts:SubjectFromWebIdentityToken>spiffe://example.org/w</sts:SubjectFromWebIdentityToken>
    <sts:Credentials>
      <sts:SessionToken>
        )") + kSessionToken +
                           R"(
      </sts:SessionToken>
      <sts:SecretAccessKey><![CDATA[)" +
                           kSecret + R"(]]></sts:SecretAccessKey>
      <sts:Expiration>2026-11-24T13:00:00Z</sts:Expiration>
      <sts:AccessKeyId>ASIAIOSFODNN7EXAMPLE</sts:AccessKeyId>
    </sts:Credentials>
  </sts:AssumeRoleWithWebIdentityResult>
</sts:AssumeRoleWithWebIdentityResponse>
)";
  auto c = aws::parse_assume_role_with_web_identity_response(response(200, body));
  REQUIRE_MESSAGE(c.has_value(), (c.has_error() ? c.error().message : ""));
  CHECK(c->access_key_id == "ASIAIOSFODNN7EXAMPLE");
  CHECK(c->secret_access_key == kSecret);
  CHECK(c->session_token == kSessionToken);
  CHECK(c->expiration == "2026-11-24T13:00:00Z");
}

TEST_CASE("STS errors carry code and message and are classified") {
  auto denied = failure(response(
      403,
      sts_error_xml("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")));
  CHECK(denied.message ==
        "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity (HTTP 403)");
  CHECK(denied.cls == errc::denied);
  CHECK_FALSE(denied.retryable());

  auto throttled = failure(response(400, sts_error_xml("Throttling", "Rate exceeded")));
  CHECK(throttled.message == "Throttling: Rate exceeded (HTTP 400)");
  CHECK(throttled.cls == errc::throttled);
  CHECK(throttled.retryable());
  CHECK(failure(response(400, sts_error_xml("ThrottlingException", "x"))).cls == errc::throttled);
  CHECK(failure(response(400, sts_error_xml("RequestLimitExceeded", "x"))).cls == errc::throttled);
  CHECK(failure(response(429, sts_error_xml("SomethingElse", "x"))).cls == errc::throttled);

  auto unavailable =
      failure(response(503, sts_error_xml("ServiceUnavailable", "Service is unavailable")));
  CHECK(unavailable.message == "ServiceUnavailable: Service is unavailable (HTTP 503)");
  CHECK(unavailable.cls == errc::server);
  CHECK(unavailable.retryable());

  auto idp = failure(
      response(400, sts_error_xml("IDPCommunicationError", "Couldn't retrieve verification key")));
  CHECK(idp.cls == errc::server);
  CHECK(idp.retryable());

  for (const char* code :
       {"InvalidIdentityToken", "ExpiredTokenException", "IDPRejectedClaim", "ValidationError"}) {
    CAPTURE(code);
    auto e = failure(response(400, sts_error_xml(code, "m")));
    CHECK(e.cls == errc::denied);
    CHECK(e.message == fmt::format("{}: m (HTTP 400)", code));
  }

  // Nested in <Errors>, as older moto sends it; no message; an error in a 200.
  auto nested = failure(response(
      400,
      "<ErrorResponse><Errors><Error><Code>InvalidParameterValue</Code><Message>bad</Message>"
      "</Error></Errors></ErrorResponse>"));
  CHECK(nested.message == "InvalidParameterValue: bad (HTTP 400)");
  CHECK(failure(response(403,
                         "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>"))
            .message == "AccessDenied: no error message in the response (HTTP 403)");
  CHECK(failure(response(400, "<ErrorResponse/>")).message ==
        "HTTP 400: no error message in the response (HTTP 400)");
  CHECK(failure(response(200, sts_error_xml("AccessDenied", "no"))).cls == errc::denied);
  // Control characters in the peer's text are escaped.
  CHECK(failure(response(403, sts_error_xml("AccessDenied", "a&#10;b\x01"))).message ==
        "AccessDenied: a b\\x01 (HTTP 403)");
}

TEST_CASE("non-XML error pages are reported with a short sanitized excerpt") {
  auto bad_gateway = failure(response(
      502,
      "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
      "Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"));
  CHECK(bad_gateway.cls == errc::server);
  CHECK(bad_gateway.retryable());
  CHECK(bad_gateway.message ==
        "HTTP 502 from STS without an error document: \"<html> <head><title>502 Bad "
        "Gateway</title></head> "
        "<body> <center><h1>502 Bad Gateway</h1></center> <hr><center>nginx</center> </body> "
        "</html>\"");

  // Well-formed XML that isn't an STS error is an error page too.
  auto xhtml = failure(response(504, "<html><body><p>Gateway Timeout</p></body></html>"));
  CHECK(xhtml.cls == errc::server);
  CHECK(xhtml.message.find("Gateway Timeout") != std::string::npos);

  auto throttled = failure(response(429, "Too Many Requests"));
  CHECK(throttled.cls == errc::throttled);
  CHECK(throttled.message == "HTTP 429 from STS without an error document: \"Too Many Requests\"");

  auto empty = failure(response(403, ""));
  CHECK(empty.cls == errc::denied);
  CHECK(empty.message == "HTTP 403 from STS with an empty body");

  std::string words;
  for (int i = 0; i < 1000; ++i) words += "word  ";
  auto long_body = failure(response(500, words));
  CHECK(long_body.message.size() < 280);
  CHECK(long_body.message.ends_with("...\""));

  auto blobs = failure(response(500, std::string(5000, 'x') + " " + std::string(5000, 'y')));
  CHECK(blobs.message == "HTTP 500 from STS without an error document: \"[redacted] [redacted]\"");

  auto control =
      failure(response(400, std::string("bad\x01request\x1b[31m\xc3\xa9") + "\n\n  end"));
  CHECK(control.message ==
        "HTTP 400 from STS without an error document: \"bad\\x01request\\x1b[31m\\xc3\\xa9 end\"");

  // A page that echoes the request's token shows no token.
  const std::string jwt =
      "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0."
      "eyJzdWIiOiJzcGlmZmU6Ly9leGFtcGxlLm9yZy93Iiw"
      "iYXVkIjpbInN0cy5hbWF6b25hd3MuY29tIl0sImV4cCI6MTgwMDAwMDYwMH0.c2lnbmF0dXJlLWJ5dGVz";
  auto echo = failure(response(400, "<p>invalid request: WebIdentityToken=" + jwt + "</p"));
  CHECK(echo.message.find("eyJ") == std::string::npos);
  CHECK(echo.message.find("[redacted]") != std::string::npos);
}

TEST_CASE("malformed or incomplete success responses are protocol errors, never crashes") {
  const std::string good = moto_success();
  for (const std::string& body :
       {std::string(), std::string("not xml"),
        std::string("{\"SecretAccessKey\":\"") + kSecret + "\"}", good.substr(0, good.size() / 2),
        good.substr(0, good.size() - 1), std::string("<a><b></a>"),
        std::string("\xff\xfe<\0a\0/\0>\0", 8)}) {
    CAPTURE(body.size());
    auto e = failure(response(200, body));
    CHECK(e.cls == errc::protocol);
    CHECK_FALSE(e.retryable());
    CHECK(e.message == "STS returned a response that is not XML");
  }
  CHECK(failure(response(200, "<GetCallerIdentityResponse/>")).message ==
        "STS response is not an AssumeRoleWithWebIdentityResponse");
  CHECK(failure(response(200, "<AssumeRoleWithWebIdentityResponse/>")).message ==
        "STS response has no AssumeRoleWithWebIdentityResult");
  CHECK(failure(response(200,
                         "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>"
                         "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"))
            .message == "STS response has no Credentials");

  for (const char* field : {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}) {
    CAPTURE(field);
    const std::string open = fmt::format("<{}>", field);
    const std::string close = fmt::format("</{}>", field);
    std::string missing = good;
    const auto start = missing.find(open);
    REQUIRE(start != std::string::npos);
    missing.erase(start, missing.find(close) + close.size() - start);
    auto e = failure(response(200, missing));
    CHECK(e.cls == errc::protocol);
    CHECK(e.message == fmt::format("STS response has no Credentials/{}", field));

    std::string empty = good;
    const auto value = empty.find(open) + open.size();
    empty.erase(value, empty.find(close) - value);
    CHECK(failure(response(200, empty)).message ==
          fmt::format("STS response has no Credentials/{}", field));
  }
  // Credentials outside the expected path don't count.
  CHECK(failure(
            response(200,
                     "<AssumeRoleWithWebIdentityResponse><Credentials><AccessKeyId>a</AccessKeyId>"
                     "</Credentials></AssumeRoleWithWebIdentityResponse>"))
            .message == "STS response has no AssumeRoleWithWebIdentityResult");
}
