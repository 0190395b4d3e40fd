#pragma once
// The engine: one identity source, one exchanger and one or more outputs, driven by the pure
// Scheduler (engine/scheduler.hpp). Every command is this engine:
//  - process mode (*-credential-process, *-oneshot) is run_once(): one identity, one exchange,
//    every output, bounded by --timeout;
//  - the file daemons are run_daemon(): until SIGTERM/SIGINT or a failure retrying can't fix.
// The engine only carries events to the scheduler and does what it answers; it makes no timing
// decision of its own.
//
// Threads: everything runs on the io_context's one thread, including post(); signal handlers
// and gRPC reactions reach it through the io_context. The pieces must outlive the engine.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "engine/metrics.hpp"
#include "engine/pieces.hpp"
#include "engine/scheduler.hpp"
#include "util/async_event.hpp"

namespace awh::engine {

struct Settings {
  std::chrono::seconds timeout{30};  // one-shot: the whole run; daemon: each exchange
  RenewalPolicy policy{};
  // How long a stop waits for an exchange in flight before giving up on it. A file write is
  // synchronous on the loop's thread, so a stop never cuts one short.
  std::chrono::milliseconds stop_grace{500};
  // What keeps the current credentials when a renewal fails, for the log ("the file").
  std::string keeper = "every output";
  // Credentials with less life left than this are an error, never output (process mode and
  // the oneshot commands: a minute, as an SDK caches what it gets; daemons: just in the future).
  std::chrono::seconds min_lifetime{0};
};

class Engine {
 public:
  Engine(boost::asio::any_io_executor executor, IdentitySource& source, Exchanger& exchanger,
         std::vector<Sink*> sinks, Clock& clock, Random& random, Settings settings);

  // One exchange to every output. `before_output` runs once the credentials are in hand, just
  // before the first output is written (the one-shot watchdog stops watching then). Returns the
  // exit code (0, or 1 after logging the error).
  boost::asio::awaitable<int> run_once(std::function<void()> before_output = {});

  // Renews until stopped (post(event::Terminate)) or a failure retrying can't fix. Returns the
  // exit code. If an exchange is still in flight `stop_grace` after the stop, it returns anyway:
  // the caller then stops the io_context.
  boost::asio::awaitable<int> run_daemon();

  // An event from outside (signals): queued for the scheduler.
  void post(Event e);

  // What the engine counted (for /metrics and /readyz); the endpoints add their requests.
  Metrics& metrics() { return metrics_; }

 private:
  struct Delivered {
    std::string identity;
    std::string expiration;
    std::optional<WallTime> expires_at;
  };
  boost::asio::awaitable<Result<Delivered>> exchange_and_deliver(
      Deadline deadline, const std::function<void()>& before_output);
  boost::asio::awaitable<Result<Delivered>> exchange_and_deliver_once(
      Deadline deadline, const std::function<void()>& before_output);
  boost::asio::awaitable<void> exchange_task(Trigger why);
  boost::asio::awaitable<void> watch();
  void apply(const Decision& d);
  std::string outputs() const;

  boost::asio::any_io_executor executor_;
  IdentitySource& source_;
  Exchanger& exchanger_;
  std::vector<Sink*> sinks_;
  Clock& clock_;
  Settings settings_;
  Scheduler scheduler_;

  std::deque<Event> queue_;
  util::AsyncEvent wake_;            // the main loop: an event was queued, or the timer is due
  util::AsyncEvent reconnect_wake_;  // the watcher: the reconnect time is known, or stop
  util::AsyncEvent task_done_;       // the stop: the exchange or the watcher has ended
  std::optional<SteadyTime> timer_at_;
  std::optional<SteadyTime> reconnect_at_;
  std::optional<int> stop_code_;
  Metrics metrics_;
  bool exchanging_ = false;
  bool watching_ = false;
};

}  // namespace awh::engine
