// The local credential endpoint's request handling (serve/request.hpp, serve/routes.hpp,
// serve/imds.hpp): raw request bytes, parsed by Beast with the listener's limits, then answered.
// Input: a flags byte (IMDS on, IMDSv1 allowed, credentials route on), then the request bytes.
// Properties:
//  - a body with credentials (or an IMDS token) is marked secret, and only a 200 is secret;
//  - the credentials route answers 200 only to the exact bearer token;
//  - the IMDS credentials answer 200 only with a live IMDS token, unless IMDSv1 is allowed;
//  - an IMDS token is issued only by PUT, never to a forwarded request, and the token issued is
//    then accepted for the credentials;
//  - no answer other than the credentials carries the secret key or the session token.

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "engine/sinks.hpp"
#include "fuzz.hpp"
#include "serve/imds.hpp"
#include "serve/request.hpp"
#include "serve/routes.hpp"

namespace {

namespace http = boost::beast::http;
constexpr std::string_view kToken =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
constexpr std::string_view kSecret = "SECRETKEYsecretkeySECRETKEYsecretkey0000";
constexpr std::string_view kSession = "SESSIONTOKENsessiontokenSESSIONTOKEN1111";

bool holds_secret(std::string_view body) {
  return body.find(kSecret) != std::string_view::npos ||
         body.find(kSession) != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace std::chrono;
  const auto f = awh::fuzz::fields(data, size, 2);
  const unsigned flags = awh::fuzz::small(f[0]);

  http::request_parser<http::string_body> parser;  // the listener's limits (serve/server.hpp)
  parser.header_limit(8 * 1024);
  parser.body_limit(1024);
  parser.eager(true);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(f[1].data(), f[1].size()), ec);
  if (ec || !parser.is_done()) return 0;
  const auto request = awh::serve::request_view(parser.get());

  const auto wall = system_clock::time_point{seconds(1795521600)};
  const auto steady = steady_clock::time_point{seconds(1000)};
  awh::creds::Credentials c;
  c.access_key_id = "ASIAFUZZFUZZFUZZFUZZ";
  c.secret_access_key = kSecret;
  c.session_token = kSession;
  c.expiration = "2026-11-24T13:00:00Z";
  auto snapshot = std::make_shared<awh::engine::MemorySink::Snapshot>();
  snapshot->credentials = c;
  snapshot->expiration = wall + hours(1);
  snapshot->version = 1;
  snapshot->delivered_at = wall;

  awh::serve::ImdsSettings imds;
  imds.role_name = "fuzz-role";
  imds.region = "us-east-1";
  imds.allow_v1 = (flags & 2) != 0;
  awh::serve::ImdsTokens tokens(4);
  awh::serve::RouteState state;
  state.token = kToken;
  state.latest = snapshot;
  state.account_id = "123456789012";
  if (flags & 1) {
    state.imds = &imds;
    state.imds_tokens = &tokens;
  }
  state.credentials_route = (flags & 4) == 0;
  state.version = "fuzz";
  state.command = "x509-serve";

  const auto reply = awh::serve::route(request, state, awh::engine::Now{steady, wall});
  FUZZ_CHECK(reply.status >= 200 && reply.status <= 599);
  if (holds_secret(reply.body)) FUZZ_CHECK(reply.secret);
  if (reply.secret) FUZZ_CHECK(reply.status == 200);
  for (const auto& [name, value] : reply.headers) FUZZ_CHECK(!holds_secret(value));

  const std::string_view path = request.target.substr(0, request.target.find('?'));
  if (reply.status == 200 && holds_secret(reply.body)) {
    if (path == awh::serve::kCredentialsPath) {
      FUZZ_CHECK(state.credentials_route);
      FUZZ_CHECK(request.authorization && *request.authorization == kToken);
    } else {
      FUZZ_CHECK(state.imds != nullptr && path.starts_with("/latest/"));
      FUZZ_CHECK(imds.allow_v1 ||
                 (request.imds_token && tokens.check(*request.imds_token, steady)));
    }
  }
  if (reply.route == "imds-token" && reply.status == 200) {
    FUZZ_CHECK(request.method == "PUT" && !request.forwarded);
    FUZZ_CHECK(reply.secret);
    FUZZ_CHECK(tokens.check(reply.body, steady).has_value());
    awh::serve::Request get;
    get.method = "GET";
    get.target = "/latest/meta-data/iam/security-credentials/fuzz-role";
    get.imds_token = reply.body;
    const auto creds = awh::serve::route(get, state, awh::engine::Now{steady, wall});
    FUZZ_CHECK(creds.status == 200 && creds.secret && holds_secret(creds.body));
  }
  return 0;
}
