#pragma once
// The credential exchanges over the network, with retries: transient failures (connection
// errors, timeouts, 429/throttling, 5xx) are retried with exponential backoff and jitter until
// `deadline` or the attempt limit. Each attempt builds its request afresh (Roles Anywhere
// signs it again with a new X-Amz-Date).

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>
#include <string_view>

#include "aws/rolesanywhere.hpp"
#include "aws/sts.hpp"
#include "net/http_client.hpp"
#include "util/backoff.hpp"

namespace awh::aws {

struct RetryPolicy {
  int max_attempts = 4;
  util::BackoffPolicy backoff{};
};

// IAM Roles Anywhere CreateSession, signed with the X.509-SVID (SigV4-X509).
boost::asio::awaitable<Result<creds::Credentials>> create_session(
    net::HttpClient& client, net::Url endpoint, CreateSessionParams params,
    SigningIdentity identity, RetryPolicy retry, std::chrono::steady_clock::time_point deadline);

// STS AssumeRoleWithWebIdentity with the JWT-SVID in the form body (never in the URL).
boost::asio::awaitable<Result<creds::Credentials>> assume_role_with_web_identity(
    net::HttpClient& client, net::Url endpoint, WebIdentityParams params, std::string_view token,
    RetryPolicy retry, std::chrono::steady_clock::time_point deadline);

// STS GetCallerIdentity, signed (SigV4) with `credentials`.
boost::asio::awaitable<Result<CallerIdentity>> get_caller_identity(
    net::HttpClient& client, net::Url endpoint, std::string region, creds::Credentials credentials,
    RetryPolicy retry, std::chrono::steady_clock::time_point deadline);

}  // namespace awh::aws
