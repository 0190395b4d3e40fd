#include "aws/rolesanywhere_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/crypto.h>

#include "util/log.hpp"

namespace awh::aws {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

asio::awaitable<Result<creds::Credentials>> create_session(
    net::HttpClient& client, net::Url endpoint, CreateSessionParams params, SigningIdentity identity,
    RetryPolicy retry, Clock::time_point deadline) {
  Error last = make_error(errc::timeout, "CreateSession: out of time");
  for (int attempt = 0; attempt < retry.max_attempts; ++attempt) {
    if (attempt > 0) {
      const auto delay = util::backoff_delay(retry.backoff, attempt - 1, util::random_uniform01());
      if (Clock::now() + delay >= deadline) break;
      log::warn("CreateSession attempt {} failed: {}; retrying in {} ms", attempt, last.message,
                delay.count());
      asio::steady_timer timer(co_await asio::this_coro::executor, delay);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    auto signed_request =
        build_create_session(params, endpoint, identity, std::chrono::system_clock::now());
    if (!signed_request) co_return signed_request.error();
    log::debug("CreateSession canonical request:\n{}", signed_request->signature.canonical_request);
    log::debug("CreateSession string to sign:\n{}", signed_request->signature.string_to_sign);

    auto response = co_await client.send(endpoint, std::move(signed_request->request), deadline);
    if (!response) {
      last = response.error();
    } else {
      log::debug("CreateSession answered HTTP {}", response->status);
      auto credentials = parse_create_session_response(*response);
      // The body held the secret key and session token; don't leave it in freed memory.
      OPENSSL_cleanse(response->body.data(), response->body.size());
      if (credentials) co_return credentials;
      last = credentials.error();
    }
    if (!last.retryable()) break;
  }
  last.message = "CreateSession failed: " + last.message;
  co_return last;
}

}  // namespace awh::aws
