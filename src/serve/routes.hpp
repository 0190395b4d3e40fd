#pragma once
// What the local credential endpoint answers (`x509-serve`, `jwt-serve`): pure decisions, from
// the request and what the in-memory store holds now. No request ever waits for an exchange.
//
// Routes:
//  - GET <credentials path> (default /v1/credentials): the container credential provider's
//    answer (botocore ContainerProvider, AWS SDKs' "HTTP credential provider"):
//    {"AccessKeyId","SecretAccessKey","Token","Expiration":"YYYY-MM-DDTHH:MM:SSZ"[,"AccountId"]}.
//    The Authorization header must equal the token (compared in constant time), else 401. No
//    valid credentials (none yet, or past their expiration) -> 503. Never empty, never stale.
//  - GET /healthz: 200 while the event loop answers.
//  - GET /readyz: 200 when valid credentials have more than 5 minutes left, else 503.
//  - A known path with another method -> 405; anything else -> 404.
// Error answers are JSON {"code","message"}; only the credentials route carries a secret.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/sinks.hpp"

namespace awh::serve {

inline constexpr std::string_view kCredentialsPath = "/v1/credentials";
inline constexpr std::chrono::minutes kReadyMargin{5};

struct Request {
  std::string_view method;
  std::string_view target;
  std::optional<std::string_view> authorization;
};

struct Reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  bool secret = false;  // the body holds credentials: wipe it once written
  // Which route answered, for logs and counters ("credentials", "healthz", "readyz", "other").
  std::string_view route = "other";
};

struct RouteState {
  std::string_view token;  // the bearer token (secret)
  std::shared_ptr<const engine::MemorySink::Snapshot> latest;
  std::optional<std::string> account_id;  // from the role ARN, when there is one
};

Reply route(const Request& request, const RouteState& state,
            std::chrono::system_clock::time_point now);

// Constant-time comparison (CRYPTO_memcmp): how long it takes says nothing about where a
// guess went wrong. Different lengths compare unequal (the length is not secret: 64 hex digits).
bool token_matches(std::string_view presented, std::string_view token);

// 256 random bits from OpenSSL's CSPRNG, as 64 lowercase hex digits.
Result<std::string> make_token();

}  // namespace awh::serve
