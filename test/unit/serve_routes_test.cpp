// The local credential endpoint's answers, decided from the request and the store: pure.
#include <doctest/doctest.h>

#include <boost/json/parse.hpp>

#include "serve/routes.hpp"
#include "util/time.hpp"

using namespace std::chrono;
using namespace awh;
using serve::Request;
using serve::RouteState;

namespace {

const std::string kToken(64, 'a');

std::shared_ptr<const engine::MemorySink::Snapshot> snapshot(system_clock::time_point expiration) {
  auto s = std::make_shared<engine::MemorySink::Snapshot>();
  s->credentials.access_key_id = "ASIAEXAMPLE";
  s->credentials.secret_access_key = "secret";
  s->credentials.session_token = "session";
  s->credentials.expiration = util::format_rfc3339(expiration);
  s->expiration = expiration;
  s->version = 1;
  return s;
}

const auto kNow = util::parse_rfc3339("2026-11-29T12:00:00.500Z").value();
const engine::Now kClock{std::chrono::steady_clock::time_point(hours(100)), kNow};

serve::Reply get(const std::string& target, std::optional<std::string_view> auth,
                 const RouteState& st) {
  Request r;
  r.method = "GET";
  r.target = target;
  r.authorization = auth;
  return serve::route(r, st, kClock);
}

}  // namespace

TEST_CASE("the credentials route: the token, then valid credentials only") {
  RouteState st{kToken, snapshot(kNow + hours(1)), std::string("123456789012")};
  auto ok = get("/v1/credentials", kToken, st);
  CHECK(ok.status == 200);
  CHECK(ok.secret);
  CHECK(ok.body == R"({"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"secret","Token":"session",)"
                   R"("Expiration":"2026-11-29T13:00:00Z","AccountId":"123456789012"})");
  // A query string doesn't change the route.
  CHECK(get("/v1/credentials?x=1", kToken, st).status == 200);

  for (const auto& bad : std::vector<std::optional<std::string_view>>{
           std::nullopt, "", "b", std::string_view(kToken).substr(1), kToken + "a",
           "Bearer " + kToken, std::string(63, 'a') + "b"}) {
    auto r = get("/v1/credentials", bad, st);
    CHECK(r.status == 401);
    CHECK_FALSE(r.secret);
    CHECK(r.body.find("secret") == std::string::npos);
  }

  // No credentials yet; expired ones; the very instant of expiry: 503, never stale.
  for (const auto& latest : {std::shared_ptr<const engine::MemorySink::Snapshot>{},
                             snapshot(kNow - seconds(1)), snapshot(kNow)}) {
    RouteState none{kToken, latest, std::nullopt};
    auto r = get("/v1/credentials", kToken, none);
    CHECK(r.status == 503);
    const auto json = boost::json::parse(r.body).as_object();
    CHECK(json.at("code").as_string() == "CredentialsUnavailable");
    CHECK(r.body.find("ASIA") == std::string::npos);
  }
  // An expiration the service sent in a form we couldn't parse is not served either.
  auto unparsed = std::make_shared<engine::MemorySink::Snapshot>(*snapshot(kNow + hours(1)));
  unparsed->expiration.reset();
  CHECK(get("/v1/credentials", kToken, RouteState{kToken, unparsed, std::nullopt}).status == 503);
  // Without a role ARN there is no AccountId field.
  CHECK(get("/v1/credentials", kToken, RouteState{kToken, snapshot(kNow + hours(1)), std::nullopt})
            .body.find("AccountId") == std::string::npos);
  // Only GET.
  Request post;
  post.method = "POST";
  post.target = "/v1/credentials";
  post.authorization = kToken;
  CHECK(serve::route(post, st, kClock).status == 405);
}

TEST_CASE("health and readiness; unknown routes") {
  RouteState st{kToken, snapshot(kNow + minutes(10)), std::nullopt};
  CHECK(get("/healthz", std::nullopt, st).status == 200);
  CHECK(get("/readyz", std::nullopt, st).status == 200);
  st.latest = snapshot(kNow + minutes(5));  // not more than 5 minutes left
  CHECK(get("/readyz", std::nullopt, st).status == 503);
  st.latest = nullptr;
  CHECK(get("/readyz", std::nullopt, st).status == 503);
  CHECK(get("/healthz", std::nullopt, st).status == 200);
  CHECK(get("/", kToken, st).status == 404);
  CHECK(get("/latest/meta-data/", kToken, st).status == 404);
  Request del;
  del.method = "DELETE";
  del.target = "/healthz";
  CHECK(serve::route(del, st, kClock).status == 405);
}

TEST_CASE("tokens: 256 random bits as hex; compared in constant time") {
  const auto a = serve::make_token();
  const auto b = serve::make_token();
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(a->size() == 64);
  CHECK(a->find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(*a != *b);
  CHECK(serve::token_matches(*a, *a));
  CHECK_FALSE(serve::token_matches(*a, *b));
  CHECK_FALSE(serve::token_matches("", ""));  // an empty token never matches
}

namespace {

// One IMDS request at steady time `t` after kClock.
serve::Reply imds(const RouteState& st, std::string method, std::string target,
                  std::optional<std::string> token, std::optional<std::string> ttl = std::nullopt,
                  bool forwarded = false, seconds t = seconds(0)) {
  Request r;
  r.method = method;
  r.target = target;
  if (token) r.imds_token = *token;
  if (ttl) r.imds_ttl = *ttl;
  r.forwarded = forwarded;
  return serve::route(r, st, engine::Now{kClock.steady + t, kClock.wall + t});
}

std::string header(const serve::Reply& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return {};
}

}  // namespace

TEST_CASE("IMDSv2: session tokens, the role, the credentials, placement; IMDSv1 off by default") {
  serve::ImdsSettings settings{"my-role", std::string("eu-west-1"), false};
  serve::ImdsTokens tokens(3);
  RouteState st{kToken, snapshot(kNow + hours(1)), std::nullopt, &settings, &tokens};

  // The token: PUT with a TTL in 1..21600, never through a proxy.
  for (const char* bad : {"0", "21601", "", "x", "-1", "99999999"}) {
    CAPTURE(bad);
    CHECK(imds(st, "PUT", "/latest/api/token", std::nullopt, std::string(bad)).status == 400);
  }
  CHECK(imds(st, "PUT", "/latest/api/token", std::nullopt).status == 400);
  CHECK(imds(st, "PUT", "/latest/api/token", std::nullopt, "60", true).status == 403);
  CHECK(imds(st, "GET", "/latest/api/token", std::nullopt, "60").status == 405);
  auto t = imds(st, "PUT", "/latest/api/token", std::nullopt, "60");
  REQUIRE(t.status == 200);
  CHECK(t.secret);
  CHECK(t.body.size() == 64);
  CHECK(header(t, "X-aws-ec2-metadata-token-ttl-seconds") == "60");
  const std::string token = t.body;

  // Without a token (IMDSv1), or a wrong one: 401.
  CHECK(imds(st, "GET", "/latest/meta-data/iam/security-credentials/", std::nullopt).status == 401);
  CHECK(
      imds(st, "GET", "/latest/meta-data/iam/security-credentials/", std::string(64, '0')).status ==
      401);

  auto role = imds(st, "GET", "/latest/meta-data/iam/security-credentials/", token, std::nullopt,
                   false, seconds(10));
  CHECK(role.status == 200);
  CHECK(role.body == "my-role");
  CHECK(header(role, "X-aws-ec2-metadata-token-ttl-seconds") == "50");  // what is left

  auto creds = imds(st, "GET", "/latest/meta-data/iam/security-credentials/my-role", token);
  REQUIRE(creds.status == 200);
  CHECK(creds.secret);
  const auto json = boost::json::parse(creds.body).as_object();
  CHECK(json.at("Code").as_string() == "Success");
  CHECK(json.at("Type").as_string() == "AWS-HMAC");
  CHECK(json.at("AccessKeyId").as_string() == "ASIAEXAMPLE");
  CHECK(json.at("Token").as_string() == "session");
  CHECK(json.at("Expiration").as_string() == "2026-11-29T13:00:00Z");
  CHECK(json.contains("LastUpdated"));
  CHECK(imds(st, "GET", "/latest/meta-data/iam/security-credentials/other-role", token).status ==
        404);
  CHECK(imds(st, "GET", "/latest/meta-data/placement/region", token).body == "eu-west-1");
  CHECK(imds(st, "GET", "/latest/meta-data/placement/availability-zone", token).body ==
        "eu-west-1a");
  CHECK(imds(st, "GET", "/latest/meta-data/ami-id", token).status == 404);

  // Expired credentials: 503, never stale ones.
  RouteState expired{kToken, snapshot(kNow - seconds(1)), std::nullopt, &settings, &tokens};
  CHECK(imds(expired, "GET", "/latest/meta-data/iam/security-credentials/my-role", token).status ==
        503);

  // The token expires; the table holds at most 3 live tokens.
  CHECK(imds(st, "GET", "/latest/meta-data/iam/security-credentials/", token, std::nullopt, false,
             seconds(60))
            .status == 401);
  for (int i = 0; i < 3; ++i)
    CHECK(imds(st, "PUT", "/latest/api/token", std::nullopt, "10").status == 200);
  CHECK(imds(st, "PUT", "/latest/api/token", std::nullopt, "10").status == 503);  // three are live
  CHECK(imds(st, "PUT", "/latest/api/token", std::nullopt, "10", false, seconds(11)).status ==
        200);  // evicted

  // --imdsv1: GETs without a token are answered, without the TTL header.
  settings.allow_v1 = true;
  auto v1 = imds(st, "GET", "/latest/meta-data/iam/security-credentials/", std::nullopt);
  CHECK(v1.status == 200);
  CHECK(header(v1, "X-aws-ec2-metadata-token-ttl-seconds").empty());

  // Without IMDS settings the routes don't exist.
  RouteState plain{kToken, snapshot(kNow + hours(1)), std::nullopt};
  CHECK(imds(plain, "PUT", "/latest/api/token", std::nullopt, "60").status == 404);
}

TEST_CASE("a --config path: the credentials at that path only, the token still required") {
  RouteState st{kToken, snapshot(kNow + hours(1)), std::string("123456789012")};
  st.credentials_path = "/roles/reader";
  CHECK(get("/roles/reader", kToken, st).status == 200);
  CHECK(get("/roles/reader?x=1", kToken, st).status == 200);
  CHECK(get("/roles/reader", std::nullopt, st).status == 401);
  CHECK(get("/v1/credentials", kToken, st).status == 404);
  CHECK(get("/roles/reader/", kToken, st).status == 404);
  // No path matched (the driver says so): 404, not 401.
  st.credentials_route = false;
  CHECK(get("/roles/reader", kToken, st).status == 404);
}
