#include "engine/engine.hpp"

#include <malloc.h>  // malloc_trim (glibc)

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>

#include "util/log.hpp"
#include "util/spawn.hpp"
#include "util/time.hpp"

namespace awh::engine {

namespace asio = boost::asio;

Engine::Engine(asio::any_io_executor executor, IdentitySource& source, Exchanger& exchanger,
               std::vector<Sink*> sinks, Clock& clock, Random& random, Settings settings)
    : executor_(executor),
      source_(source),
      exchanger_(exchanger),
      sinks_(std::move(sinks)),
      clock_(clock),
      settings_(settings),
      scheduler_(settings.policy, source.streams(), random, settings.keeper),
      wake_(executor),
      reconnect_wake_(executor),
      task_done_(executor) {}

std::string Engine::outputs() const {
  std::string out;
  for (const Sink* sink : sinks_) {
    if (!out.empty()) out += " and ";
    out += sink->describe();
  }
  return out;
}

asio::awaitable<Result<Engine::Delivered>> Engine::exchange_and_deliver(
    Deadline deadline, const std::function<void()>& before_output) {
  // The outputs know an exchange is under way until it ends, however it ends. (Not a guard in
  // the frame: a frame abandoned at a stop is destroyed with the io_context, after the sinks.)
  for (Sink* sink : sinks_) sink->exchanging(true);
  auto result = co_await exchange_and_deliver_once(deadline, before_output);
  for (Sink* sink : sinks_) sink->exchanging(false);
  co_return result;
}

asio::awaitable<Result<Engine::Delivered>> Engine::exchange_and_deliver_once(
    Deadline deadline, const std::function<void()>& before_output) {
  AWH_CO_TRY(identity, co_await source_.fetch(deadline));
  if (identity->expires) metrics_.svid_expiry = identity->expires;
  AWH_CO_TRY(credentials, co_await exchanger_.exchange(*identity, deadline));
  // Validated before any output: nothing unusable is ever printed or written.
  AWH_CO_TRY(expires, creds::check_expiration(credentials->expiration, clock_.now().wall,
                                              settings_.min_lifetime));
  Delivered delivered{identity->description, credentials->expiration, *expires};
  if (stop_code_) co_return make_error(errc::internal, "stopping");
  if (before_output) before_output();
  for (Sink* sink : sinks_) {
    if (auto done = co_await sink->deliver_async(*credentials); !done) {
      metrics_.last_delivery_ok = false;
      co_return done.error();
    }
  }
  metrics_.last_delivery_ok = true;
  co_return delivered;
}

asio::awaitable<int> Engine::run_once(std::function<void()> before_output) {
  const auto deadline = clock_.now().steady + settings_.timeout;
  auto delivered = co_await exchange_and_deliver(deadline, before_output);
  if (!delivered) {
    log::error("{}", delivered.error().message);
    co_return 1;
  }
  for (const Sink* sink : sinks_) {
    if (sink->logs_delivery()) {
      log::info("wrote credentials for {} to {}; they expire at {}", delivered->identity,
                sink->describe(), delivered->expiration);
    }
  }
  co_return 0;
}

void Engine::post(Event e) {
  queue_.push_back(std::move(e));
  wake_.notify();
}

void Engine::apply(const Decision& d) {
  for (const auto& note : d.notes) {
    if (log::enabled(note.level)) log::write(note.level, note.text);
  }
  if (d.stop) {
    if (!stop_code_) stop_code_ = *d.stop;
    source_.cancel_stream();
    reconnect_wake_.notify();
    return;
  }
  if (d.reconnect_at) {
    reconnect_at_ = d.reconnect_at;
    reconnect_wake_.notify();
  }
  if (d.wake_at) timer_at_ = d.wake_at;
  if (d.exchange) {
    timer_at_.reset();
    exchanging_ = true;
    asio::co_spawn(
        executor_, exchange_task(*d.exchange),
        util::log_failures(
            "the exchange",
            [this] { post(event::Failed{make_error(errc::internal, "the exchange failed")}); },
            [this] {
              exchanging_ = false;
              task_done_.notify();
            }));
  }
}

asio::awaitable<void> Engine::exchange_task(Trigger why) {
  log::debug("exchanging ({})", trigger_name(why));
  const auto started = clock_.now().steady;
  const auto deadline = started + settings_.timeout;
  auto delivered = co_await exchange_and_deliver(deadline, {});
  metrics_.exchange_seconds.observe(
      std::chrono::duration<double>(clock_.now().steady - started).count());
  if (stop_code_) co_return;
  if (!delivered) {
    ++metrics_.exchanges[{"failure", class_name(delivered.error().cls)}];
    post(event::Failed{delivered.error()});
    co_return;
  }
  // The exchange's buffers are freed by now: give their pages back to the system (glibc keeps
  // freed heap pages otherwise), so that an idle daemon's heap is what it holds, not what the
  // exchange needed at its peak. Anonymous memory: really returned, not hidden.
#ifdef __GLIBC__
  malloc_trim(0);
#endif
  const auto now = clock_.now();
  ++metrics_.exchanges[{"success", ""}];
  metrics_.credentials_expiry = delivered->expires_at;
  metrics_.last_success = now.wall;
  post(event::Issued{std::chrono::duration_cast<milliseconds>(*delivered->expires_at - now.wall),
                     util::format_rfc3339(*delivered->expires_at),
                     fmt::format("renewed {} with {}", outputs(), delivered->identity)});
}

asio::awaitable<void> Engine::watch() {
  while (!stop_code_) {
    bool first = true;
    Error ended = co_await source_.stream([this, &first](event::SvidUpdate update) {
      if (std::exchange(first, false)) post(event::StreamBack{});
      post(std::move(update));
    });
    if (stop_code_) break;
    reconnect_at_.reset();
    ++metrics_.reconnects;
    post(event::StreamLost{std::move(ended)});
    while (!stop_code_ && !reconnect_at_) co_await reconnect_wake_.wait();
    while (!stop_code_ && clock_.now().steady < *reconnect_at_)
      co_await reconnect_wake_.wait_until(*reconnect_at_);
  }
}

asio::awaitable<int> Engine::run_daemon() {
  log::info("keeping {} fresh ({})", outputs(), exchanger_.describe());
  if (source_.streams()) {
    watching_ = true;
    asio::co_spawn(
        executor_, watch(),
        util::log_failures(
            "the Workload API watcher",
            [this] { post(event::StreamLost{make_error(errc::internal, "the watcher failed")}); },
            [this] {
              watching_ = false;
              task_done_.notify();
            }));
  }
  post(event::Started{});
  while (!stop_code_) {
    while (!queue_.empty() && !stop_code_) {
      Event e = std::move(queue_.front());
      queue_.pop_front();
      apply(scheduler_.on(e, clock_.now()));
    }
    if (stop_code_) break;
    co_await wake_.wait_until(timer_at_.value_or(SteadyTime::max()));
    if (timer_at_ && clock_.now().steady >= *timer_at_) {
      timer_at_.reset();
      queue_.push_back(event::Tick{});
    }
  }
  // Stopping: the watcher ends with its cancelled stream; an exchange in flight gets a grace.
  const auto grace_end = clock_.now().steady + settings_.stop_grace;
  while ((exchanging_ || watching_) && clock_.now().steady < grace_end)
    co_await task_done_.wait_until(grace_end);
  if (exchanging_)
    log::warn("stopping with an exchange still in flight (no output is written after a stop)");
  co_return *stop_code_;
}

}  // namespace awh::engine
