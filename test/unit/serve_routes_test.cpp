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

serve::Reply get(const std::string& target, std::optional<std::string_view> auth,
                 const RouteState& st) {
  return serve::route(Request{"GET", target, auth}, st, kNow);
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
  CHECK(serve::route(Request{"POST", "/v1/credentials", kToken}, st, kNow).status == 405);
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
  CHECK(serve::route(Request{"DELETE", "/healthz", std::nullopt}, st, kNow).status == 405);
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
