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

}  // namespace

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

Reply route(const Request& request, const RouteState& state,
            std::chrono::system_clock::time_point now) {
  const std::string_view path = request.target.substr(0, request.target.find('?'));
  const bool get = request.method == "GET";
  if (path == kCredentialsPath) {
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
    if (valid(state, now, kReadyMargin)) {
      r.body = "ready\n";
    } else {
      r.status = 503;
      r.body = state.latest ? "not ready: the credentials expire within 5 minutes or have expired\n"
                            : "not ready: no credentials yet\n";
    }
    return r;
  }
  return error_reply(404, "NotFound", "no such route", "other");
}

}  // namespace awh::serve
