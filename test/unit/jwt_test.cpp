#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "crypto/openssl.hpp"
#include "spiffe/jwt.hpp"

using namespace awh;
using namespace std::chrono_literals;

namespace {

const auto kNow = std::chrono::system_clock::from_time_t(1800000000);  // 2027-01-15T08:00:00Z
constexpr char kAudience[] = "sts.amazonaws.com";
constexpr char kHeader[] = R"({"alg":"ES256","kid":"k1","typ":"JWT"})";
constexpr char kPayload[] =
    R"({"sub":"spiffe://example.org/ns/prod/sa/web","aud":["sts.amazonaws.com"],"exp":1800000600,"iat":1800000000})";
constexpr char kSignature[] = "c2lnbmF0dXJlLWJ5dGVz";

std::string b64url(std::string_view s) {
  auto out = crypto::base64(s);
  out.erase(std::remove(out.begin(), out.end(), '='), out.end());
  std::replace(out.begin(), out.end(), '+', '-');
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

std::string token(std::string_view header, std::string_view payload,
                  std::string_view signature = kSignature) {
  return b64url(header) + "." + b64url(payload) + "." + std::string(signature);
}

std::string with_payload(std::string_view payload) { return token(kHeader, payload); }

// Checks the token fails with errc::invalid_input and a message that reveals none of it.
std::string failure(const std::string& jwt, std::string_view audience = kAudience) {
  auto r = spiffe::check_jwt_svid(jwt, audience, kNow);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().cls == errc::invalid_input);
  const auto& message = r.error().message;
  CHECK(message.rfind("the JWT-SVID", 0) == 0);
  std::string_view rest = jwt;
  for (;;) {  // no part of the encoding, nor the whole
    const auto dot = rest.find('.');
    const auto part = rest.substr(0, dot);
    if (part.size() >= 4) CHECK_MESSAGE(message.find(part) == std::string::npos, message);
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (!jwt.empty()) CHECK(message.find(jwt) == std::string::npos);
  return message;
}

}  // namespace

TEST_CASE("a valid JWT-SVID yields its claims") {
  auto claims = spiffe::check_jwt_svid(token(kHeader, kPayload), kAudience, kNow);
  REQUIRE_MESSAGE(claims.has_value(), (claims.has_error() ? claims.error().message : ""));
  CHECK(claims->subject == "spiffe://example.org/ns/prod/sa/web");
  CHECK(claims->audience == std::vector<std::string>{"sts.amazonaws.com"});
  CHECK(claims->expiry == kNow + 600s);
}

TEST_CASE("aud may be a single string or an array that includes the audience") {
  auto single = spiffe::check_jwt_svid(
      with_payload(
          R"({"sub":"spiffe://example.org/w","aud":"sts.amazonaws.com","exp":1800000001})"),
      kAudience, kNow);
  REQUIRE(single.has_value());
  CHECK(single->audience == std::vector<std::string>{"sts.amazonaws.com"});
  CHECK(single->expiry == kNow + 1s);

  auto several = spiffe::check_jwt_svid(
      with_payload(
          R"({"sub":"spiffe://example.org/w","aud":["a","sts.amazonaws.com","b"],"exp":1800000600})"),
      kAudience, kNow);
  REQUIRE(several.has_value());
  CHECK(several->audience == std::vector<std::string>{"a", "sts.amazonaws.com", "b"});
}

TEST_CASE("exp may be fractional (a NumericDate)") {
  auto claims = spiffe::check_jwt_svid(
      with_payload(
          R"({"sub":"spiffe://example.org/w","aud":"sts.amazonaws.com","exp":1800000000.5})"),
      kAudience, kNow);
  REQUIRE(claims.has_value());
  CHECK(claims->expiry == kNow + 500ms);
}

TEST_CASE("a token that is not three parts is refused") {
  const auto good = token(kHeader, kPayload);
  const auto two = good.substr(0, good.rfind('.'));
  CHECK(failure(two) == "the JWT-SVID is not a JWT (expected 3 parts, got 2)");
  CHECK(failure(good + ".c2ln") == "the JWT-SVID is not a JWT (expected 3 parts, got 4)");
  CHECK(failure(good + ".a.b") == "the JWT-SVID is not a JWT (expected 3 parts, got 5)");  // JWE
  CHECK(failure(b64url(kHeader)) == "the JWT-SVID is not a JWT (expected 3 parts, got 1)");
  CHECK(failure("") == "the JWT-SVID is not a JWT (expected 3 parts, got 1)");
  CHECK(failure("..") == "the JWT-SVID's header is empty");
  CHECK(failure(b64url(kHeader) + ".." + kSignature) == "the JWT-SVID's payload is empty");
  CHECK(failure(b64url(kHeader) + "." + b64url(kPayload) + ".") ==
        "the JWT-SVID's signature is empty");
}

TEST_CASE("parts that are not base64url are refused") {
  const auto header = b64url(kHeader);
  const auto payload = b64url(kPayload);
  CHECK(failure(header + "=." + payload + "." + kSignature) ==
        "the JWT-SVID's header is not base64url");
  CHECK(failure(crypto::base64(kHeader) + "." + payload + "." + kSignature) ==
        "the JWT-SVID's header is not base64url");  // padded standard base64
  CHECK(failure(header + "." + payload + "!." + kSignature) ==
        "the JWT-SVID's payload is not base64url");
  CHECK(failure(header + "." + payload + " ." + kSignature) ==
        "the JWT-SVID's payload is not base64url");
  CHECK(failure(header + ".QUFBQ." + kSignature) ==
        "the JWT-SVID's payload is not base64url");  // 4n+1 characters can't be base64
  CHECK(failure(header + "." + payload + ".c2l+") == "the JWT-SVID's signature is not base64url");
  CHECK(failure(header + "." + payload + ".c2ln=") == "the JWT-SVID's signature is not base64url");
}

TEST_CASE("header and payload must be JSON objects") {
  CHECK(failure(token(kHeader, "not json")) == "the JWT-SVID's payload is not JSON");
  CHECK(failure(token(kHeader, R"({"sub":"spiffe://example.org/w",)")) ==
        "the JWT-SVID's payload is not JSON");
  CHECK(failure(token(kHeader, R"(["sub"])")) == "the JWT-SVID's payload is not a JSON object");
  CHECK(failure(token(kHeader, R"("sub")")) == "the JWT-SVID's payload is not a JSON object");
  CHECK(failure(token(kHeader, "42")) == "the JWT-SVID's payload is not a JSON object");
  CHECK(failure(token("{alg:ES256}", kPayload)) == "the JWT-SVID's header is not JSON");
  CHECK(failure(token("null", kPayload)) == "the JWT-SVID's header is not a JSON object");
}

TEST_CASE("alg must be present and not none") {
  CHECK(failure(token(R"({"alg":"none","typ":"JWT"})", kPayload)) ==
        R"(the JWT-SVID is unsigned (alg "none"))");
  CHECK(failure(token(R"({"typ":"JWT"})", kPayload)) ==
        "the JWT-SVID's header has no alg (a string)");
  CHECK(failure(token(R"({"alg":256})", kPayload)) ==
        "the JWT-SVID's header has no alg (a string)");
}

TEST_CASE("exp must be a number in the future") {
  CHECK(failure(with_payload(R"({"sub":"spiffe://example.org/w","aud":"sts.amazonaws.com"})")) ==
        "the JWT-SVID has no exp claim");
  CHECK(failure(with_payload(
            R"({"sub":"spiffe://example.org/w","aud":"sts.amazonaws.com","exp":"1800000600"})")) ==
        "the JWT-SVID's exp claim is not a number");
  CHECK(failure(with_payload(
            R"({"sub":"spiffe://example.org/w","aud":"sts.amazonaws.com","exp":true})")) ==
        "the JWT-SVID's exp claim is not a number");
  CHECK(failure(with_payload(
            R"({"sub":"spiffe://example.org/w","aud":"sts.amazonaws.com","exp":null})")) ==
        "the JWT-SVID's exp claim is not a number");
  CHECK(failure(with_payload(
            R"({"sub":"spiffe://example.org/w","aud":"sts.amazonaws.com","exp":1800000000})")) ==
        "the JWT-SVID expired at 2027-01-15T08:00:00Z");  // exp == now: already expired
  CHECK(failure(with_payload(
            R"({"sub":"spiffe://example.org/w","aud":"sts.amazonaws.com","exp":1799999000})")) ==
        "the JWT-SVID expired at 2027-01-15T07:43:20Z");
  CHECK(failure(with_payload(
            R"({"sub":"spiffe://example.org/w","aud":"sts.amazonaws.com","exp":0})")) ==
        "the JWT-SVID expired at 1970-01-01T00:00:00Z");
  for (const char* exp : {"-1", "1e300", "18446744073709551615", "99999999999"}) {
    CAPTURE(exp);
    CHECK(failure(with_payload(fmt::format(
              R"({{"sub":"spiffe://example.org/w","aud":"sts.amazonaws.com","exp":{}}})", exp))) ==
          "the JWT-SVID's exp claim is out of range");
  }
}

TEST_CASE("aud must include the audience") {
  CHECK(failure(
            with_payload(R"({"sub":"spiffe://example.org/w","aud":["a","b"],"exp":1800000600})")) ==
        "the JWT-SVID's audience [a, b] does not include 'sts.amazonaws.com'");
  CHECK(failure(with_payload(
            R"({"sub":"spiffe://example.org/w","aud":"sts.amazonaws.com.cn","exp":1800000600})")) ==
        "the JWT-SVID's audience [sts.amazonaws.com.cn] does not include 'sts.amazonaws.com'");
  CHECK(failure(with_payload(R"({"sub":"spiffe://example.org/w","aud":[],"exp":1800000600})")) ==
        "the JWT-SVID's audience [] does not include 'sts.amazonaws.com'");
  CHECK(failure(with_payload(R"({"sub":"spiffe://example.org/w","exp":1800000600})")) ==
        "the JWT-SVID has no aud claim");
  CHECK(failure(with_payload(R"({"sub":"spiffe://example.org/w","aud":7,"exp":1800000600})")) ==
        "the JWT-SVID's aud claim is not a string or an array of strings");
  CHECK(
      failure(with_payload(
          R"({"sub":"spiffe://example.org/w","aud":["sts.amazonaws.com",7],"exp":1800000600})")) ==
      "the JWT-SVID's aud claim is not a string or an array of strings");
  // Case matters (RFC 7519 §4.1.3 compares StringOrURI values as strings).
  CHECK(
      failure(with_payload(
                  R"({"sub":"spiffe://example.org/w","aud":"STS.amazonaws.com","exp":1800000600})"))
          .find("does not include") != std::string::npos);
  // Control characters from the token are escaped in the message.
  CHECK(
      failure(with_payload(R"({"sub":"spiffe://example.org/w","aud":"a\nb","exp":1800000600})")) ==
      "the JWT-SVID's audience [a\\nb] does not include 'sts.amazonaws.com'");
}

TEST_CASE("sub must be a SPIFFE ID") {
  CHECK(failure(with_payload(R"({"aud":"sts.amazonaws.com","exp":1800000600})")) ==
        "the JWT-SVID has no sub claim");
  CHECK(failure(with_payload(R"({"sub":42,"aud":"sts.amazonaws.com","exp":1800000600})")) ==
        "the JWT-SVID's sub claim is not a string");
  CHECK(failure(with_payload(
            R"({"sub":"https://example.org/w","aud":"sts.amazonaws.com","exp":1800000600})")) ==
        "the JWT-SVID's subject 'https://example.org/w' is not a valid SPIFFE ID");
  CHECK(failure(with_payload(
            R"({"sub":"spiffe://Example.org/w","aud":"sts.amazonaws.com","exp":1800000600})")) ==
        "the JWT-SVID's subject 'spiffe://Example.org/w' is not a valid SPIFFE ID");
  CHECK(failure(with_payload(R"({"sub":"","aud":"sts.amazonaws.com","exp":1800000600})")) ==
        "the JWT-SVID's subject '' is not a valid SPIFFE ID");
}
