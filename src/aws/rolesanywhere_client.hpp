#pragma once
// CreateSession over the network, with retries: transient failures (connection errors,
// timeouts, 429/throttling, 5xx) are retried with exponential backoff and jitter until
// `deadline` or the attempt limit, and every attempt is signed afresh (new X-Amz-Date).

#include <boost/asio/awaitable.hpp>

#include <chrono>

#include "aws/rolesanywhere.hpp"
#include "net/http_client.hpp"
#include "util/backoff.hpp"

namespace awh::aws {

struct RetryPolicy {
  int max_attempts = 4;
  util::BackoffPolicy backoff{};
};

boost::asio::awaitable<Result<creds::Credentials>> create_session(
    net::HttpClient& client, net::Url endpoint, CreateSessionParams params, SigningIdentity identity,
    RetryPolicy retry, std::chrono::steady_clock::time_point deadline);

}  // namespace awh::aws
