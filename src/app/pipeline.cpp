#include "app/pipeline.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>

#include "aws/clients.hpp"
#include "creds/file_sink.hpp"
#include "spiffe/jwt.hpp"
#include "util/backoff.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace awh::app {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Calls `fetch(deadline)` until it succeeds, fails for good, or `deadline` comes: the agent may
// start after us, or not have attested us yet (PERMISSION_DENIED "no identity issued").
template <class T, class Fetch>
asio::awaitable<Result<T>> retry_until(Fetch fetch, Deadline deadline) {
  const util::BackoffPolicy policy{milliseconds(100), milliseconds(2000)};
  std::optional<Error> last;  // the last real failure, not "no answer in time"
  for (int attempt = 0;; ++attempt) {
    Result<T> result = co_await fetch(deadline);
    if (result || !result.error().retryable()) co_return result;
    if (result.error().cls != errc::timeout || !last) last = result.error();
    // Keep trying until the deadline: the last wait is cut short so that one more attempt fits.
    // When it runs out, report the failure that kept us from succeeding (an attempt cut off by
    // the deadline says less than the one before it).
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left < milliseconds(100)) {
      auto error = *last;
      error.message += " (gave up when --timeout ran out)";
      co_return error;
    }
    const auto delay = std::min(util::backoff_delay(policy, attempt, util::random_uniform01()), left - milliseconds(50));
    log::warn("{}; retrying in {} ms", result.error().message, delay.count());
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace

Result<std::unique_ptr<net::HttpClient>> prepare(const Options& options) {
  if (writes_file(options.command)) {
    if (auto ready = creds::preflight(options.file); !ready) return ready.error();
  }
  return net::HttpClient::create(net::ClientOptions{options.ca_bundle});
}

asio::awaitable<Result<std::vector<spiffe::RawX509Svid>>> fetch_x509(spiffe::WorkloadClient& workload,
                                                                     Deadline deadline) {
  co_return co_await retry_until<std::vector<spiffe::RawX509Svid>>(
      [&](Deadline d) { return workload.fetch_x509_once(d); }, deadline);
}

Result<spiffe::X509Svid> choose_svid(const std::vector<spiffe::RawX509Svid>& svids,
                                     const spiffe::Selector& selector) {
  auto index = spiffe::select_svid(svids, selector);
  if (!index) return index.error();
  if (selector.empty() && svids.size() > 1) {
    log::info("the Workload API returned {} SVIDs; using the first, {} (select with --hint or --spiffe-id)",
              svids.size(), svids[*index].spiffe_id);
  }
  return spiffe::parse_x509_svid(svids[*index]);
}

asio::awaitable<Result<creds::Credentials>> create_session_with(net::HttpClient& http, const Options& options,
                                                                const spiffe::X509Svid& svid, Deadline deadline) {
  log::debug("using X.509-SVID {} (serial {}, {} intermediate(s))", svid.spiffe_id, svid.serial_decimal,
             svid.intermediates_der.size());
  const aws::SigningIdentity identity{svid.key.get(), svid.leaf_der, svid.intermediates_der, svid.serial_decimal};
  auto credentials =
      co_await aws::create_session(http, options.endpoint, options.session, identity, aws::RetryPolicy{}, deadline);
  if (credentials) {
    log::debug("received credentials {} expiring {}", credentials->access_key_id, credentials->expiration);
  }
  co_return credentials;
}

asio::awaitable<Result<Exchanged>> exchange_x509(net::HttpClient& http, spiffe::WorkloadClient& workload,
                                                 const Options& options, Deadline deadline) {
  auto svids = co_await fetch_x509(workload, deadline);
  if (!svids) co_return make_error(svids.error().cls, "cannot get an X.509-SVID: " + svids.error().message);
  auto svid = choose_svid(*svids, options.selector);
  if (!svid) co_return make_error(svid.error().cls, "cannot use the X.509-SVID: " + svid.error().message);
  auto credentials = co_await create_session_with(http, options, *svid, deadline);
  if (!credentials) co_return credentials.error();
  co_return Exchanged{std::move(*credentials),
                      fmt::format("X.509-SVID {} (serial {})", svid->spiffe_id, svid->serial_decimal)};
}

asio::awaitable<Result<Exchanged>> exchange_jwt(net::HttpClient& http, spiffe::WorkloadClient& workload,
                                                const Options& options, Deadline deadline) {
  auto svids = co_await retry_until<std::vector<spiffe::RawJwtSvid>>(
      [&](Deadline d) { return workload.fetch_jwt_once(options.audience, options.selector.spiffe_id, d); },
      deadline);
  if (!svids) co_return make_error(svids.error().cls, "cannot get a JWT-SVID: " + svids.error().message);
  auto index = spiffe::select_jwt_svid(*svids, options.selector);
  if (!index) co_return make_error(index.error().cls, "cannot use the JWT-SVID: " + index.error().message);
  const auto& svid = (*svids)[*index];
  if (options.selector.empty() && svids->size() > 1) {
    log::warn("the Workload API returned {} JWT-SVIDs; using the first, {} (select with --hint or --spiffe-id)",
              svids->size(), svid.spiffe_id);
  }
  auto claims = spiffe::check_jwt_svid(svid.token, options.audience, std::chrono::system_clock::now());
  if (!claims) co_return make_error(claims.error().cls, "cannot use the JWT-SVID: " + claims.error().message);
  log::debug("using JWT-SVID {} for audience {} (expires {})", claims->subject, options.audience,
             util::format_rfc3339(claims->expiry));

  aws::WebIdentityParams params = options.web_identity;
  if (params.role_arn && !params.role_session_name) {
    // AWS STS requires a session name with a role; the SDKs make one up the same way.
    params.role_session_name = fmt::format(
        "aws-spiffe-workload-helper-{}",
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  }
  auto credentials = co_await aws::assume_role_with_web_identity(http, options.endpoint, params, svid.token,
                                                                 aws::RetryPolicy{}, deadline);
  if (!credentials) co_return credentials.error();
  log::debug("received credentials {} expiring {}", credentials->access_key_id, credentials->expiration);
  co_return Exchanged{std::move(*credentials), fmt::format("JWT-SVID {}", claims->subject)};
}

}  // namespace awh::app
