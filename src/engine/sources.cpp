#include "engine/sources.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "spiffe/jwt.hpp"
#include "util/async_event.hpp"
#include "util/backoff.hpp"
#include "util/log.hpp"
#include "util/spawn.hpp"
#include "util/time.hpp"

namespace awh::engine {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

// Retrying a Workload API call while the agent starts or attests us: 100 ms doubling to 2 s.
constexpr util::BackoffPolicy kFetchRetry{milliseconds(100), milliseconds(2000)};

// Calls `fetch(deadline)` until it succeeds, fails for good, or `deadline` comes: the agent may
// start after us, or not have attested us yet (PERMISSION_DENIED "no identity issued").
template <class T, class Fetch>
asio::awaitable<Result<T>> retry_until(Fetch fetch, Deadline deadline) {
  std::optional<Error> last;  // the last real failure, not "no answer in time"
  for (int attempt = 0;; ++attempt) {
    Result<T> result = co_await fetch(deadline);
    if (result || !result.error().retryable()) co_return result;
    if (result.error().cls != errc::timeout || !last) last = result.error();
    // Keep trying until the deadline: the last wait is cut short so that one more attempt fits.
    // When it runs out, report the failure that kept us from succeeding (an attempt cut off by
    // the deadline says less than the one before it).
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left < milliseconds(100)) {
      auto error = *last;
      error.message += " (gave up when --timeout ran out)";
      co_return error;
    }
    const auto delay = std::min(util::backoff_delay(kFetchRetry, attempt, util::random_uniform01()),
                                left - milliseconds(50));
    log::warn("{}; retrying in {} ms", result.error().message, delay.count());
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

std::string describe(const spiffe::X509Svid& svid) {
  return fmt::format("X.509-SVID {} (serial {})", svid.spiffe_id, svid.serial_decimal);
}

}  // namespace

Result<spiffe::X509Svid> choose_svid(const std::vector<spiffe::RawX509Svid>& svids,
                                     const spiffe::Selector& selector) {
  AWH_TRY(index, spiffe::select_svid(svids, selector));
  if (selector.empty() && svids.size() > 1) {
    log::info(
        "the Workload API returned {} SVIDs; using the first, {} (select with --hint or "
        "--spiffe-id)",
        svids.size(), svids[*index].spiffe_id);
  }
  return spiffe::parse_x509_svid(svids[*index]);
}

asio::awaitable<Result<std::vector<spiffe::RawX509Svid>>> fetch_x509_svids(
    spiffe::WorkloadClient& workload, Deadline deadline) {
  co_return co_await retry_until<std::vector<spiffe::RawX509Svid>>(
      [&](Deadline d) { return workload.fetch_x509_once(d); }, deadline);
}

asio::awaitable<Result<std::vector<spiffe::RawJwtSvid>>> fetch_jwt_svids(
    spiffe::WorkloadClient& workload, std::string audience, std::optional<std::string> spiffe_id,
    Deadline deadline) {
  co_return co_await retry_until<std::vector<spiffe::RawJwtSvid>>(
      [&](Deadline d) { return workload.fetch_jwt_once(audience, spiffe_id, d); }, deadline);
}

asio::awaitable<Result<Identity>> X509Source::fetch(Deadline deadline) {
  if (!latest_) {
    auto svids = co_await fetch_x509_svids(workload_, deadline);
    if (!svids) co_return svids.error().prefixed("cannot get an X.509-SVID: ");
    auto svid = choose_svid(*svids, selector_);
    if (!svid) co_return svid.error().prefixed("cannot use the X.509-SVID: ");
    latest_ = std::make_shared<const spiffe::X509Svid>(std::move(*svid));
  }
  log::debug("using X.509-SVID {} (serial {}, {} intermediate(s))", latest_->spiffe_id,
             latest_->serial_decimal, latest_->intermediates_der.size());
  co_return Identity{latest_, {}, describe(*latest_), latest_->not_after, latest_->spiffe_id};
}

asio::awaitable<Error> X509Source::stream(std::function<void(event::SvidUpdate)> on_update) {
  stream_ = shared_ ? shared_->subscribe() : workload_.open_x509_stream();
  while (true) {
    auto message = co_await stream_->next();
    if (!message) {
      stream_.reset();
      co_return message.error();
    }
    auto svid = choose_svid(*message, selector_);
    if (!svid) {
      log::error("cannot use the X.509-SVID update: {}{}", svid.error().message,
                 latest_ ? "; keeping the previous SVID" : "");
      continue;
    }
    const bool rotated = !latest_ || latest_->leaf_der != svid->leaf_der;
    if (rotated) {
      log::info("received X.509-SVID {} (serial {}, valid until {})", svid->spiffe_id,
                svid->serial_decimal, util::format_rfc3339(svid->not_after));
      latest_ = std::make_shared<const spiffe::X509Svid>(std::move(*svid));
    }
    on_update(event::SvidUpdate{rotated, describe(*latest_)});
  }
}

// A subscriber's end of the shared stream: the newest message not yet taken, or the error that
// ended the stream.
class SharedX509Stream::Handle final : public spiffe::X509SvidStream {
 public:
  Handle(SharedX509Stream& owner, asio::any_io_executor executor)
      : owner_(&owner), ready_(std::move(executor)) {}
  ~Handle() override { cancel(); }

  asio::awaitable<Result<std::vector<spiffe::RawX509Svid>>> next() override {
    while (!pending_) co_await ready_.wait();
    auto out = std::move(*pending_);
    pending_.reset();
    if (!out) done_ = true;
    co_return out;
  }
  void cancel() override {
    if (owner_ == nullptr) return;
    std::exchange(owner_, nullptr)->unsubscribe(this);
    if (!done_) put(make_error(errc::workload_unavailable, "the X.509-SVID stream was cancelled"));
  }
  // The newest state replaces one not yet taken (each message carries the full state); an
  // error is final.
  void put(Result<std::vector<spiffe::RawX509Svid>> message) {
    if (done_ || (pending_ && !*pending_)) return;
    pending_ = std::move(message);
    ready_.notify();
  }
  void detach() { owner_ = nullptr; }

 private:
  SharedX509Stream* owner_;
  util::AsyncEvent ready_;
  std::optional<Result<std::vector<spiffe::RawX509Svid>>> pending_;
  bool done_ = false;
};

SharedX509Stream::~SharedX509Stream() {
  for (Handle* h : handles_) h->detach();
  if (upstream_) upstream_->cancel();
}

std::unique_ptr<spiffe::X509SvidStream> SharedX509Stream::subscribe() {
  auto handle = std::make_unique<Handle>(*this, executor_);
  handles_.push_back(handle.get());
  if (!upstream_) {
    latest_.reset();
    upstream_ = workload_.open_x509_stream();
    ++opened_;
    asio::co_spawn(executor_, pump(upstream_.get()),
                   util::log_failures(
                       "the shared X.509-SVID stream", [] {}, [] {}));
  } else if (latest_) {
    handle->put(*latest_);
  }
  return handle;
}

void SharedX509Stream::unsubscribe(Handle* handle) {
  std::erase(handles_, handle);
  if (handles_.empty() && upstream_) {
    upstream_->cancel();  // its pump sees the end and frees it
    retired_.push_back(std::move(upstream_));
    latest_.reset();
  }
}

// `upstream` is owned by upstream_ or retired_ until this pump frees it.
asio::awaitable<void> SharedX509Stream::pump(spiffe::X509SvidStream* upstream) {
  while (true) {
    auto message = co_await upstream->next();
    if (upstream_.get() != upstream) {  // cancelled when every handle went
      std::erase_if(retired_, [&](const auto& s) { return s.get() == upstream; });
      co_return;
    }
    if (!message) {
      upstream_.reset();
      latest_.reset();
      const auto handles = handles_;
      for (Handle* h : handles) h->put(message.error());
      co_return;
    }
    latest_ = *message;
    for (Handle* h : handles_) h->put(*message);
  }
}

void X509Source::cancel_stream() {
  if (stream_) stream_->cancel();
}

asio::awaitable<Result<Identity>> JwtSource::fetch(Deadline deadline) {
  auto svids = co_await fetch_jwt_svids(workload_, audience_, selector_.spiffe_id, deadline);
  if (!svids) co_return svids.error().prefixed("cannot get a JWT-SVID: ");
  auto index = spiffe::select_jwt_svid(*svids, selector_);
  if (!index) co_return index.error().prefixed("cannot use the JWT-SVID: ");
  auto& svid = (*svids)[*index];
  if (selector_.empty() && svids->size() > 1) {
    log::warn(
        "the Workload API returned {} JWT-SVIDs; using the first, {} (select with --hint or "
        "--spiffe-id)",
        svids->size(), svid.spiffe_id);
  }
  auto claims = spiffe::check_jwt_svid(svid.token, audience_, std::chrono::system_clock::now());
  if (!claims) co_return claims.error().prefixed("cannot use the JWT-SVID: ");
  log::debug("using JWT-SVID {} for audience {} (expires {})", claims->subject, audience_,
             util::format_rfc3339(claims->expiry));
  co_return Identity{nullptr, std::move(svid.token), fmt::format("JWT-SVID {}", claims->subject),
                     claims->expiry, claims->subject};
}

}  // namespace awh::engine
