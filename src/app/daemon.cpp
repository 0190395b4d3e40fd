// The daemon is two coroutines on one io_context:
//  - the watcher (X.509 only) keeps a FetchX509SVID stream open, reconnecting with backoff, and
//    publishes the selected SVID;
//  - the renewer exchanges and writes the file when the credentials reach half-life, when the
//    SVID's certificate changes, on SIGHUP, and retries failures with capped backoff. On the JWT
//    path it fetches a fresh JWT-SVID for every exchange (they are short-lived by design).
// They share state without locks: everything runs on the io_context's single thread. gRPC's own
// threads only post into it (spiffe/workload_client.hpp).
#include "app/daemon.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <memory>

#include "app/pipeline.hpp"
#include "app/renewal.hpp"
#include "creds/file_sink.hpp"
#include "spiffe/workload_client.hpp"
#include "util/backoff.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace awh::app {
namespace {

namespace asio = boost::asio;
using Steady = std::chrono::steady_clock;
using Wall = std::chrono::system_clock;
using std::chrono::milliseconds;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// Reconnecting to the Workload API: about 1 s growing to 30 s, reset by a message.
constexpr util::BackoffPolicy kReconnect{std::chrono::seconds(1), std::chrono::seconds(30)};
// How long SIGTERM waits for an exchange in flight before the loop is stopped regardless. A
// file write is synchronous on the loop's thread, so stopping never cuts one short.
constexpr milliseconds kStopGrace{500};

// A level-triggered wake-up for one waiter: notify() before or during wait_until() ends it.
class Wakeup {
 public:
  explicit Wakeup(asio::any_io_executor ex) : timer_(std::move(ex)) {}
  void notify() {
    pending_ = true;
    timer_.cancel();
  }
  asio::awaitable<void> wait_until(Steady::time_point when) {
    if (!pending_) {
      timer_.expires_at(when);
      co_await timer_.async_wait(kUseTuple);
    }
    pending_ = false;
  }

 private:
  asio::steady_timer timer_;
  bool pending_ = false;
};

std::string seconds_text(milliseconds d) { return fmt::format("{:.1f}s", static_cast<double>(d.count()) / 1000.0); }

class Daemon {
 public:
  Daemon(asio::io_context& io, const Options& options, spiffe::WorkloadClient& workload, net::HttpClient& http)
      : io_(io),
        options_(options),
        workload_(workload),
        http_(http),
        signals_(io, SIGTERM, SIGINT, SIGHUP),
        wake_(io.get_executor()),
        reconnect_timer_(io),
        stop_timer_(io) {}

  int run() {
    log::info("keeping profile [{}] of {} fresh (Workload API {}, {} {})", options_.file.profile,
              options_.file.path, workload_.target(), jwt_ ? "STS" : "Roles Anywhere",
              options_.endpoint.host_header());
    listen_for_signals();
    if (!jwt_) start(watch());
    start(renew());
    io_.run();
    return exit_code_;
  }

 private:
  void start(asio::awaitable<void> task) {
    ++tasks_;
    asio::co_spawn(io_, std::move(task), [this](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::error("internal error: {}", ex.what());
        }
        stop(1);
      }
      if (--tasks_ == 0) {  // both done: nothing may keep the loop alive
        signals_.cancel();
        stop_timer_.cancel();
      }
    });
  }

  void listen_for_signals() {
    signals_.async_wait([this](boost::system::error_code ec, int signal) {
      if (ec) return;
      if (signal == SIGHUP) {
        log::info("SIGHUP: renewing the credentials now");
        hup_ = true;
        wake_.notify();
        listen_for_signals();
        return;
      }
      log::info("{}: stopping", signal == SIGTERM ? "SIGTERM" : "SIGINT");
      stop(0);
    });
  }

  // Ends both tasks; an exchange still in flight after kStopGrace is abandoned.
  void stop(int code) {
    if (stopping_) return;
    stopping_ = true;
    exit_code_ = code;
    if (stream_) stream_->cancel();
    reconnect_timer_.cancel();
    wake_.notify();
    signals_.cancel();
    stop_timer_.expires_after(kStopGrace);
    stop_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) io_.stop();
    });
  }

  asio::awaitable<void> watch() {
    int failures = 0;
    while (!stopping_) {
      stream_ = workload_.open_x509_stream();
      Error ended;
      while (true) {
        auto message = co_await stream_->next();
        if (!message) {
          ended = message.error();
          break;
        }
        failures = 0;
        publish(*message);
      }
      stream_.reset();
      if (stopping_) break;
      if (!ended.retryable()) {
        log::error("{}; giving up", ended.message);
        stop(1);
        break;
      }
      const auto delay = util::backoff_delay(kReconnect, failures++, util::random_uniform01());
      log::warn("{}; reconnecting in {}", ended.message, seconds_text(delay));
      reconnect_timer_.expires_after(delay);
      co_await reconnect_timer_.async_wait(kUseTuple);
    }
  }

  // A new X509SVIDResponse: select and parse; wake the renewer if the certificate changed.
  void publish(const std::vector<spiffe::RawX509Svid>& svids) {
    auto svid = choose_svid(svids, options_.selector);
    if (!svid) {
      log::error("cannot use the X.509-SVID update: {}{}", svid.error().message,
                 latest_ ? "; keeping the previous SVID" : "");
      return;
    }
    if (latest_ && latest_->leaf_der == svid->leaf_der) {
      log::debug("Workload API update without a new certificate for {} (bundle only)", svid->spiffe_id);
      return;
    }
    log::info("received X.509-SVID {} (serial {}, valid until {})", svid->spiffe_id, svid->serial_decimal,
              util::format_rfc3339(svid->not_after));
    latest_ = std::make_shared<const spiffe::X509Svid>(std::move(*svid));
    if (latest_->leaf_der != used_leaf_) wake_.notify();
  }

  asio::awaitable<void> renew() {
    while (!jwt_ && !stopping_ && !latest_) co_await wake_.wait_until(Steady::time_point::max());
    Steady::time_point next = Steady::now();
    int failures = 0;
    while (!stopping_) {
      co_await wake_.wait_until(next);
      if (stopping_) break;
      const bool due = Steady::now() >= next;
      const bool rotated = !jwt_ && latest_->leaf_der != used_leaf_;
      const bool hup = std::exchange(hup_, false);
      if (!due && !rotated && !hup) continue;

      auto outcome = co_await renew_once();
      if (stopping_) break;
      const double u01 = util::random_uniform01();
      if (outcome) {
        const auto now = Wall::now();
        const auto expiration = outcome->first;
        auto delay = renewal_delay(now, expiration, u01);
        if (nearly_expired(now, expiration)) {
          delay = retry_delay(++failures, u01);
          log::warn("the new credentials expire at {}, which is (nearly) past: is the clock right? "
                    "renewing again in {}", util::format_rfc3339(expiration), seconds_text(delay));
        } else {
          failures = 0;
          log::info("renewed profile [{}] of {} with {}; the credentials expire at {}; next renewal at {} (in {})",
                    options_.file.profile, options_.file.path, outcome->second, util::format_rfc3339(expiration),
                    util::format_rfc3339(now + std::chrono::duration_cast<Wall::duration>(delay)),
                    seconds_text(delay));
        }
        next = Steady::now() + delay;
      } else {
        const auto delay = retry_delay(++failures, u01);
        next = Steady::now() + delay;
        log::error("renewal failed ({} in a row): {}; the file keeps the current credentials; next attempt at {} "
                   "(in {})",
                   failures, outcome.error().message,
                   util::format_rfc3339(Wall::now() + std::chrono::duration_cast<Wall::duration>(delay)),
                   seconds_text(delay));
      }
    }
  }

  // One exchange and one write; the credentials' expiration and where they came from.
  asio::awaitable<Result<std::pair<Wall::time_point, std::string>>> renew_once() {
    const auto deadline = Steady::now() + options_.timeout;
    Result<Exchanged> exchanged = make_error(errc::internal, "unset");
    if (jwt_) {
      exchanged = co_await exchange_jwt(http_, workload_, options_, deadline);
    } else {
      const std::shared_ptr<const spiffe::X509Svid> svid = latest_;  // held across the exchange
      auto credentials = co_await create_session_with(http_, options_, *svid, deadline);
      if (credentials) {
        used_leaf_ = svid->leaf_der;
        exchanged = Exchanged{std::move(*credentials),
                              fmt::format("X.509-SVID {} (serial {})", svid->spiffe_id, svid->serial_decimal)};
      } else {
        exchanged = credentials.error();
      }
    }
    if (!exchanged) co_return exchanged.error();
    if (stopping_) co_return make_error(errc::internal, "stopping");
    auto expiration = util::parse_rfc3339(exchanged->credentials.expiration);
    if (!expiration) {
      co_return make_error(errc::protocol,
                           fmt::format("the credentials' Expiration is unusable: {}", expiration.error().message));
    }
    if (auto written = creds::write_credentials(options_.file, exchanged->credentials); !written) {
      co_return written.error();
    }
    co_return std::pair{*expiration, std::move(exchanged->identity)};
  }

  asio::io_context& io_;
  const Options& options_;
  spiffe::WorkloadClient& workload_;
  net::HttpClient& http_;
  asio::signal_set signals_;
  Wakeup wake_;
  asio::steady_timer reconnect_timer_;
  asio::steady_timer stop_timer_;
  std::unique_ptr<spiffe::X509SvidStream> stream_;
  std::shared_ptr<const spiffe::X509Svid> latest_;  // the newest usable SVID
  std::string used_leaf_;                           // the certificate behind the file's credentials
  const bool jwt_ = is_jwt(options_.command);
  bool hup_ = false;
  bool stopping_ = false;
  int tasks_ = 0;
  int exit_code_ = 0;
};

}  // namespace

int run_daemon(const Options& options) {
  auto http = prepare(options);  // a file we could never write fails before any request
  if (!http) {
    log::error("{}", http.error().message);
    return 1;
  }
  asio::io_context io(1);
  int code = 0;
  {
    spiffe::WorkloadClient workload(io.get_executor(), options.workload_api_target);
    Daemon daemon(io, options, workload, **http);
    code = daemon.run();
  }  // the Workload API client waits for gRPC to finish its calls before the io_context goes
  return code;
}

}  // namespace awh::app
