#include "serve/routes.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <array>

#include "crypto/openssl.hpp"
#include "util/secret.hpp"
#include "util/time.hpp"

namespace awh::serve {
namespace {

Reply error_reply(unsigned status, std::string_view code, std::string_view message,
                  std::string_view route) {
  boost::json::object o;
  o["code"] = code;
  o["message"] = message;
  Reply r;
  r.status = status;
  r.body = boost::json::serialize(o);
  r.route = route;
  return r;
}

// Valid credentials: present, with a parsed expiration still in the future.
bool valid(const RouteState& state, std::chrono::system_clock::time_point now,
           std::chrono::system_clock::duration margin = {}) {
  return state.latest && state.latest->expiration && *state.latest->expiration > now + margin;
}

Reply credentials_reply(const RouteState& state) {
  const auto& c = state.latest->credentials;
  boost::json::object o;
  o["AccessKeyId"] = c.access_key_id;
  o["SecretAccessKey"] = c.secret_access_key;
  o["Token"] = c.session_token;
  o["Expiration"] = util::format_rfc3339(*state.latest->expiration);
  if (state.account_id) o["AccountId"] = *state.account_id;
  Reply r;
  r.body = boost::json::serialize(o);
  r.secret = true;
  r.route = "credentials";
  // The JSON object held copies of the secrets; boost::json frees them with the object. (Its
  // storage can't be wiped from outside; the body we send is.)
  return r;
}

Reply text(unsigned status, std::string body, std::string_view route) {
  Reply r;
  r.status = status;
  r.content_type = "text/plain";
  r.body = std::move(body);
  r.route = route;
  return r;
}

// The IMDSv2-compatible routes (serve/imds.hpp).
Reply imds_route(const Request& request, std::string_view path, const RouteState& state,
                 engine::Now now) {
  const ImdsSettings& imds = *state.imds;
  if (path == "/latest/api/token") {
    if (request.method != "PUT") return text(405, "use PUT\n", "imds-token");
    if (request.forwarded)
      return text(403, "forwarded requests may not get a token\n", "imds-token");
    int ttl = 0;
    const auto ttl_text = request.imds_ttl.value_or("");
    const bool number = !ttl_text.empty() && ttl_text.size() <= 5 &&
                        ttl_text.find_first_not_of("0123456789") == std::string_view::npos;
    if (number) ttl = std::stoi(std::string(ttl_text));
    if (!number || ttl < 1 || ttl > kMaxImdsTtlSeconds) {
      return text(400, "X-aws-ec2-metadata-token-ttl-seconds must be 1..21600\n", "imds-token");
    }
    auto token = state.imds_tokens->issue(std::chrono::seconds(ttl), now.steady);
    if (!token) return text(503, token.error().message + "\n", "imds-token");
    Reply r = text(200, std::move(*token), "imds-token");
    r.secret = true;
    r.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds", std::to_string(ttl));
    return r;
  }
  if (request.method != "GET") return text(405, "use GET\n", "imds");
  std::optional<std::chrono::seconds> left;
  if (request.imds_token) left = state.imds_tokens->check(*request.imds_token, now.steady);
  if (!left && !imds.allow_v1)
    return text(401, "a valid X-aws-ec2-metadata-token is required\n", "imds");
  auto answer = [&](Reply r) {
    if (left)
      r.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds", std::to_string(left->count()));
    return r;
  };
  constexpr std::string_view kCredentials = "/latest/meta-data/iam/security-credentials/";
  if (path == kCredentials) {
    if (imds.role_name.empty()) return answer(text(404, "no role\n", "imds"));
    return answer(text(200, imds.role_name, "imds"));
  }
  if (path.starts_with(kCredentials)) {
    if (imds.role_name.empty() || path.substr(kCredentials.size()) != imds.role_name) {
      return answer(text(404, "no such role\n", "imds"));
    }
    if (!valid(state, now.wall)) {
      return answer(error_reply(503, "CredentialsUnavailable",
                                "no valid credentials; try again later", "imds"));
    }
    const auto& c = state.latest->credentials;
    boost::json::object o;
    o["Code"] = "Success";
    o["LastUpdated"] = util::format_rfc3339(state.latest->delivered_at);
    o["Type"] = "AWS-HMAC";
    o["AccessKeyId"] = c.access_key_id;
    o["SecretAccessKey"] = c.secret_access_key;
    o["Token"] = c.session_token;
    o["Expiration"] = util::format_rfc3339(*state.latest->expiration);
    Reply r;
    r.body = boost::json::serialize(o);
    r.secret = true;
    r.route = "imds";
    return answer(std::move(r));
  }
  if (path == "/latest/meta-data/placement/region" && imds.region)
    return answer(text(200, *imds.region, "imds"));
  if (path == "/latest/meta-data/placement/availability-zone" && imds.region) {
    return answer(text(200, *imds.region + "a", "imds"));
  }
  return answer(text(404, "not found\n", "imds"));
}

}  // namespace

Reply answer(const Request& request, const RouteState& state, engine::Metrics& metrics) {
  Reply reply =
      route(request, state,
            engine::Now{std::chrono::steady_clock::now(), std::chrono::system_clock::now()});
  ++metrics.requests[{std::string(reply.route), reply.status}];
  return reply;
}

bool token_matches(std::string_view presented, std::string_view token) {
  if (presented.size() != token.size() || token.empty()) return false;
  return CRYPTO_memcmp(presented.data(), token.data(), token.size()) == 0;
}

Result<std::string> make_token() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return make_error(errc::crypto, "cannot draw random bytes for the bearer token: " +
                                        crypto::last_openssl_error());
  }
  std::string token =
      crypto::hex(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return token;
}

Reply route(const Request& request, const RouteState& state, engine::Now clock) {
  const auto now = clock.wall;
  const std::string_view path = request.target.substr(0, request.target.find('?'));
  if (path.starts_with("/latest/") && state.imds && state.imds_tokens)
    return imds_route(request, path, state, clock);
  const bool get = request.method == "GET";
  if (state.credentials_route && path == state.credentials_path) {
    if (!get) return error_reply(405, "MethodNotAllowed", "use GET", "credentials");
    if (!request.authorization || !token_matches(*request.authorization, state.token)) {
      return error_reply(401, "Unauthorized",
                         "the Authorization header must carry the token from the token file",
                         "credentials");
    }
    if (!valid(state, now)) {
      return error_reply(
          503, "CredentialsUnavailable",
          state.latest
              ? "the credentials have expired and renewing them is failing; try again later"
              : "no credentials yet; try again later",
          "credentials");
    }
    return credentials_reply(state);
  }
  if (path == "/healthz") {
    if (!get) return error_reply(405, "MethodNotAllowed", "use GET", "healthz");
    Reply r;
    r.content_type = "text/plain";
    r.body = "ok\n";
    r.route = "healthz";
    return r;
  }
  if (path == "/readyz") {
    if (!get) return error_reply(405, "MethodNotAllowed", "use GET", "readyz");
    Reply r;
    r.content_type = "text/plain";
    r.route = "readyz";
    const bool ready = state.metrics
                           ? state.metrics->credentials_expiry &&
                                 *state.metrics->credentials_expiry > now + kReadyMargin &&
                                 state.metrics->last_delivery_ok
                           : valid(state, now, kReadyMargin);
    if (ready) {
      r.body = "ready\n";
    } else {
      r.status = 503;
      r.body = state.metrics && !state.metrics->last_delivery_ok
                   ? "not ready: the last attempt could not write its output\n"
                   : "not ready: no credentials with more than 5 minutes left\n";
    }
    return r;
  }
  if (path == "/metrics" && state.metrics) {
    if (!get) return error_reply(405, "MethodNotAllowed", "use GET", "metrics");
    Reply r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = engine::render_prometheus(*state.metrics, state.version, state.command);
    r.route = "metrics";
    return r;
  }
  return error_reply(404, "NotFound", "no such route", "other");
}

}  // namespace awh::serve
