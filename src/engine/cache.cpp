#include "engine/cache.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "util/log.hpp"
#include "util/time.hpp"

namespace awh::engine {

namespace asio = boost::asio;

creds::CacheKeyInput cache_key_for(creds::CacheKeyInput exchange, const Identity& identity) {
  exchange.spiffe_id = identity.spiffe_id;
  if (identity.x509) exchange.svid_serial = identity.x509->serial_decimal;
  if (identity.x509 == nullptr && identity.expires) {
    exchange.jwt_expiry =
        std::chrono::duration_cast<std::chrono::seconds>(identity.expires->time_since_epoch())
            .count();
  }
  return exchange;
}

std::optional<creds::Credentials> CachingExchanger::fresh(const std::string& key) {
  auto entry = store_.read(key);
  if (!entry) return std::nullopt;
  if (!creds::cache_reusable(entry->expiration, clock_.now().wall)) {
    log::debug("cache: the entry expires at {}, too soon to hand out; renewing it",
               entry->credentials.expiration);
    return std::nullopt;
  }
  return std::move(entry->credentials);
}

asio::awaitable<Result<creds::Credentials>> CachingExchanger::exchange(const Identity& identity,
                                                                       Deadline deadline) {
  const std::string key = creds::cache_key(cache_key_for(exchange_, identity));
  if (auto hit = fresh(key)) {
    log::debug("cache: using the cached credentials for {} (expiring {})", identity.description,
               hit->expiration);
    co_return std::move(*hit);
  }

  // Single flight: wait (bounded) for the key's lock, polling: flock has no timeout, and a
  // blocking wait would hold the loop's only thread.
  std::optional<creds::CacheLock> lock;
  const auto wait_end = std::min(deadline, clock_.now().steady + lock_wait_);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    auto taken = store_.try_lock(key);
    if (!taken) {
      log::warn("cache: {}; exchanging without the cache", taken.error().message);
      break;
    }
    if (*taken) {
      lock = std::move(*taken);
      break;
    }
    if (clock_.now().steady >= wait_end) {
      log::warn("cache: another run held the cache lock for too long; exchanging without it");
      break;
    }
    timer.expires_after(std::chrono::milliseconds(10));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (lock) {
    // Another run may have filled the entry while we waited.
    if (auto hit = fresh(key)) {
      log::debug("cache: using the credentials another run just cached for {}",
                 identity.description);
      co_return std::move(*hit);
    }
  }

  auto credentials = co_await inner_.exchange(identity, deadline);
  if (!credentials) co_return credentials;
  if (!util::parse_rfc3339(credentials->expiration)) {
    log::warn("cache: the Expiration '{}' is not a time; not caching", credentials->expiration);
    co_return credentials;
  }
  if (auto written = store_.write(key, *credentials); !written) {
    log::warn("cache: {}", written.error().message);
  } else {
    log::debug("cache: stored the credentials for {} in {}", identity.description,
               store_.entry_path(key));
    // Each write also clears out what is past use, so the directory does not grow forever.
    store_.sweep(clock_.now().wall);
  }
  co_return credentials;  // the lock is released after the entry is in place
}

}  // namespace awh::engine
