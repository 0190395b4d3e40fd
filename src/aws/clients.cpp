#include "aws/clients.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <functional>

#include "util/log.hpp"
#include "util/secret.hpp"

namespace awh::aws {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// Sends what `make` builds until `parse` accepts the answer, a failure is final, the attempts
// run out, or the next wait would pass `deadline`.
template <class T>
asio::awaitable<Result<T>> exchange_with_retry(
    net::HttpClient& client, const net::Url& endpoint, std::string_view what,
    const std::function<Result<net::HttpRequest>()>& make,
    const std::function<Result<T>(const net::HttpResponse&)>& parse, RetryPolicy retry,
    Clock::time_point deadline) {
  Error last = make_error(errc::timeout, "out of time");
  for (int attempt = 0; attempt < retry.max_attempts; ++attempt) {
    if (attempt > 0) {
      const auto delay = util::backoff_delay(retry.backoff, attempt - 1, util::random_uniform01());
      if (Clock::now() + delay >= deadline) break;
      log::warn("{} attempt {} failed: {}; retrying in {} ms", what, attempt, last.message,
                delay.count());
      asio::steady_timer timer(co_await asio::this_coro::executor, delay);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    auto request = make();
    if (!request) co_return request.error();
    auto response = co_await client.send(endpoint, std::move(*request), deadline);
    if (!response) {
      last = response.error();
    } else {
      log::debug("{} answered HTTP {}", what, response->status);
      auto parsed = parse(*response);
      // The body held the secret key and session token; don't leave it in freed memory.
      util::wipe(response->body);
      if (parsed) co_return parsed;
      last = parsed.error();
    }
    if (!last.retryable()) break;
  }
  last.message = fmt::format("{} failed: {}", what, last.message);
  co_return last;
}

}  // namespace

asio::awaitable<Result<creds::Credentials>> create_session(
    net::HttpClient& client, net::Url endpoint, CreateSessionParams params,
    SigningIdentity identity, RetryPolicy retry, Clock::time_point deadline) {
  auto make = [&]() -> Result<net::HttpRequest> {
    auto signed_request =
        build_create_session(params, endpoint, identity, std::chrono::system_clock::now());
    if (!signed_request) return signed_request.error();
    log::debug("CreateSession canonical request:\n{}", signed_request->signature.canonical_request);
    log::debug("CreateSession string to sign:\n{}", signed_request->signature.string_to_sign);
    return std::move(signed_request->request);
  };
  co_return co_await exchange_with_retry<creds::Credentials>(
      client, endpoint, "CreateSession", make, parse_create_session_response, retry, deadline);
}

asio::awaitable<Result<creds::Credentials>> assume_role_with_web_identity(
    net::HttpClient& client, net::Url endpoint, WebIdentityParams params, std::string_view token,
    RetryPolicy retry, Clock::time_point deadline) {
  auto make = [&]() -> Result<net::HttpRequest> {
    return build_assume_role_with_web_identity(endpoint, params, token);
  };
  co_return co_await exchange_with_retry<creds::Credentials>(
      client, endpoint, "AssumeRoleWithWebIdentity", make,
      parse_assume_role_with_web_identity_response, retry, deadline);
}

asio::awaitable<Result<CallerIdentity>> get_caller_identity(net::HttpClient& client,
                                                            net::Url endpoint, std::string region,
                                                            creds::Credentials credentials,
                                                            RetryPolicy retry,
                                                            Clock::time_point deadline) {
  // Not logged: the canonical request holds the session token.
  auto make = [&]() -> Result<net::HttpRequest> {
    return build_get_caller_identity(endpoint, region, credentials,
                                     std::chrono::system_clock::now())
        .request;
  };
  co_return co_await exchange_with_retry<CallerIdentity>(client, endpoint, "GetCallerIdentity",
                                                         make, parse_get_caller_identity_response,
                                                         retry, deadline);
}

}  // namespace awh::aws
