#pragma once
// The cache step of process mode (`--cache`): an Exchanger in front of the real one. The run
// still fetches its identity from the Workload API; this step then answers from the cache when
// an entry for this exchange and this SVID is fresh (creds/cache.hpp), and otherwise makes the
// exchange and stores the result.
//
// Single flight: N processes that miss at once take the key's flock in turn (waiting at most
// `lock_wait`); each re-reads the entry after taking the lock, so only the first one exchanges.
// A lock that can't be had in time, or a cache that can't be written, costs only the cache: the
// exchange is made and the credentials delivered anyway (logged as a warning).

#include <chrono>
#include <string>

#include "creds/cache.hpp"
#include "creds/cache_store.hpp"
#include "engine/pieces.hpp"

namespace awh::engine {

// The key fields of the exchange itself plus those of `identity` (its SPIFFE ID and serial, or
// the JWT-SVID's subject and expiry).
creds::CacheKeyInput cache_key_for(creds::CacheKeyInput exchange, const Identity& identity);

class CachingExchanger final : public Exchanger {
 public:
  // `exchange` holds the exchange's key fields (the identity's are filled in per run).
  CachingExchanger(Exchanger& inner, creds::CacheStore store, creds::CacheKeyInput exchange,
                   Clock& clock, std::chrono::milliseconds lock_wait)
      : inner_(inner),
        store_(std::move(store)),
        exchange_(std::move(exchange)),
        clock_(clock),
        lock_wait_(lock_wait) {}
  boost::asio::awaitable<Result<creds::Credentials>> exchange(const Identity& identity,
                                                              Deadline deadline) override;
  std::string describe() const override { return inner_.describe(); }
  Result<std::string> dry_run(const Identity& identity) override {
    return inner_.dry_run(identity);
  }

 private:
  std::optional<creds::Credentials> fresh(const std::string& key);

  Exchanger& inner_;
  creds::CacheStore store_;
  creds::CacheKeyInput exchange_;
  Clock& clock_;
  std::chrono::milliseconds lock_wait_;
};

}  // namespace awh::engine
