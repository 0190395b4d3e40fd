#pragma once
// What the local credential endpoint answers (`x509-serve`, `jwt-serve`): pure decisions, from
// the request and what the in-memory store holds now. No request ever waits for an exchange.
//
// Routes:
//  - GET <credentials path> (/v1/credentials; with --config, each exchange's own path): the
//  container credential provider's
//    answer (botocore ContainerProvider, AWS SDKs' "HTTP credential provider"):
//    {"AccessKeyId","SecretAccessKey","Token","Expiration":"YYYY-MM-DDTHH:MM:SSZ"[,"AccountId"]}.
//    The Authorization header must equal the token (compared in constant time), else 401. No
//    valid credentials (none yet, or past their expiration) -> 503. Never empty, never stale.
//  - GET /healthz: 200 while the event loop answers.
//  - GET /readyz: 200 when valid credentials have more than 5 minutes left and the last
//    attempt wrote every output, else 503.
//  - GET /metrics: the Prometheus text format (engine/metrics.hpp); no secret in it.
//  - /latest/...: the IMDSv2-compatible routes (serve/imds.hpp), when enabled.
//  - A known path with another method -> 405; anything else -> 404.
// Error answers are JSON {"code","message"}; only the credentials route carries a secret.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/metrics.hpp"
#include "engine/sinks.hpp"
#include "serve/imds.hpp"

namespace awh::serve {

inline constexpr std::string_view kCredentialsPath = "/v1/credentials";
inline constexpr std::chrono::minutes kReadyMargin{5};

struct Request {
  std::string_view method;
  std::string_view target;
  std::optional<std::string_view> authorization;
  // IMDS: X-aws-ec2-metadata-token, X-aws-ec2-metadata-token-ttl-seconds, X-Forwarded-For.
  std::optional<std::string_view> imds_token;
  std::optional<std::string_view> imds_ttl;
  bool forwarded = false;
};

struct Reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  bool secret = false;  // the body holds credentials (or a token): wipe it once written
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  // Which route answered, for logs and counters ("credentials", "healthz", "readyz", "other").
  std::string_view route = "other";
};

struct RouteState {
  std::string_view token;  // the bearer token (secret)
  std::shared_ptr<const engine::MemorySink::Snapshot> latest;
  std::optional<std::string> account_id;  // from the role ARN, when there is one
  // The IMDS routes (serve/imds.hpp), when enabled: its settings and its token table.
  const ImdsSettings* imds = nullptr;
  ImdsTokens* imds_tokens = nullptr;
  // /metrics and readiness from what the engine counted, when given.
  const engine::Metrics* metrics = nullptr;
  std::string_view version{};
  std::string_view command{};
  bool credentials_route = true;  // false: a health-only listener (the file daemons)
  // Where the credentials are served (--config: the path of the exchange the request names).
  std::string_view credentials_path = kCredentialsPath;
};

// `now`: the wall time for expirations, the steady time for IMDS tokens.
Reply route(const Request& request, const RouteState& state, engine::Now now);

// route() now, counted in `metrics.requests` by route and status: what the listeners call.
Reply answer(const Request& request, const RouteState& state, engine::Metrics& metrics);

// Constant-time comparison (CRYPTO_memcmp): how long it takes says nothing about where a
// guess went wrong. Different lengths compare unequal (the length is not secret: 64 hex digits).
bool token_matches(std::string_view presented, std::string_view token);

// 256 random bits from OpenSSL's CSPRNG, as 64 lowercase hex digits.
Result<std::string> make_token();

}  // namespace awh::serve
