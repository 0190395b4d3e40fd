// The engine driver with fake pieces: what it does with the scheduler's decisions. Real asio
// timers on a tiny policy (tens of milliseconds), no sockets.
#include <doctest/doctest.h>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <optional>

#include "engine/engine.hpp"
#include "engine/sinks.hpp"
#include "util/async_event.hpp"
#include "util/time.hpp"

using namespace std::chrono;
using namespace awh;
using namespace awh::engine;
namespace asio = boost::asio;

namespace {

// RFC 3339 with milliseconds, for credentials that live a fraction of a second.
std::string rfc3339_ms(system_clock::time_point t) {
  const auto secs = time_point_cast<seconds>(t);
  const auto ms = duration_cast<milliseconds>(t - secs).count();
  std::string whole = util::format_rfc3339(secs);
  whole.pop_back();  // 'Z'
  return fmt::format("{}.{:03}Z", whole, ms);
}

class FakeSource final : public IdentitySource {
 public:
  FakeSource(asio::any_io_executor ex, bool streams) : streams_(streams), event_(std::move(ex)) {}
  asio::awaitable<Result<Identity>> fetch(Deadline) override {
    ++fetches;
    if (fail_fetch) co_return make_error(errc::workload_unavailable, "no agent");
    co_return Identity{nullptr, util::SecretString("token"),
                       fmt::format("identity {}", generation)};
  }
  bool streams() const override { return streams_; }
  asio::awaitable<Error> stream(std::function<void(event::SvidUpdate)> on_update) override {
    ++sessions;
    while (true) {
      while (!updates.empty()) {
        auto u = updates.front();
        updates.pop_front();
        if (u.new_certificate) ++generation;
        on_update(u);
      }
      if (end_with) {
        Error e = *end_with;
        end_with.reset();
        co_return e;
      }
      if (cancelled) co_return make_error(errc::workload_unavailable, "cancelled");
      co_await event_.wait();
    }
  }
  void cancel_stream() override {
    cancelled = true;
    event_.notify();
  }
  void push(event::SvidUpdate u) {
    updates.push_back(std::move(u));
    event_.notify();
  }
  void end(Error e) {
    end_with = std::move(e);
    event_.notify();
  }

  bool fail_fetch = false;
  int fetches = 0;
  int sessions = 0;
  int generation = 0;
  bool cancelled = false;
  std::deque<event::SvidUpdate> updates;
  std::optional<Error> end_with;

 private:
  bool streams_;
  util::AsyncEvent event_;
};

class FakeExchanger final : public Exchanger {
 public:
  explicit FakeExchanger(asio::any_io_executor ex) : hang_(std::move(ex)) {}
  asio::awaitable<Result<creds::Credentials>> exchange(const Identity& identity,
                                                       Deadline) override {
    ++calls;
    used.push_back(identity.description);
    if (hang) co_await hang_.wait();
    if (!failures.empty() && failures.front()) {
      failures.pop_front();
      co_return make_error(errc::server, "ServiceUnavailable: try later (HTTP 503)");
    }
    if (!failures.empty()) failures.pop_front();
    creds::Credentials c;
    c.access_key_id = fmt::format("ASIA{}", calls);
    c.secret_access_key = "secret";
    c.session_token = "token";
    c.expiration = rfc3339_ms(system_clock::now() + lifetime);
    co_return c;
  }
  std::string describe() const override { return "fake exchange"; }

  milliseconds lifetime{400};
  std::deque<bool> failures;  // true: fail that call
  bool hang = false;
  int calls = 0;
  std::vector<std::string> used;

 private:
  util::AsyncEvent hang_;
};

class RecordingSink final : public Sink {
 public:
  Result<void> prepare() override {
    if (refuse)
      return make_error(errc::file, "cannot write /nowhere/credentials: Permission denied");
    return {};
  }
  Result<void> deliver(const creds::Credentials& c) override {
    keys.push_back(c.access_key_id);
    return {};
  }
  std::string describe() const override { return "the recorder"; }
  bool refuse = false;
  std::vector<std::string> keys;
};

// A tiny policy: the same shape, in tens of milliseconds.
Settings fast_settings() {
  Settings s;
  s.timeout = seconds(5);
  s.policy.floor = milliseconds(20);
  s.policy.first_earliest = 0.5;
  s.policy.failure = {milliseconds(20), milliseconds(80)};
  s.policy.reconnect = {milliseconds(20), milliseconds(80)};
  s.policy.min_trigger_spacing = milliseconds(100);
  s.stop_grace = milliseconds(200);
  return s;
}

struct Rig {
  explicit Rig(bool streams, Settings settings = fast_settings())
      : source(io.get_executor(), streams),
        exchanger(io.get_executor()),
        engine(io.get_executor(), source, exchanger, {&sink, &memory}, clock, random, settings) {}

  // Runs the daemon; `script` runs on the loop after `delay`. Bounded.
  std::optional<int> daemon(milliseconds delay, std::function<void()> script,
                            milliseconds bound = seconds(10)) {
    std::optional<int> code;
    asio::co_spawn(io, engine.run_daemon(), [&](std::exception_ptr e, int c) {
      REQUIRE_FALSE(e);
      code = c;
    });
    asio::steady_timer timer(io, delay);
    timer.async_wait([&](boost::system::error_code) { script(); });
    const auto start = steady_clock::now();
    while (!code && steady_clock::now() - start < bound) io.run_for(milliseconds(20));
    return code;
  }
  void at(milliseconds delay, std::function<void()> f) {
    auto timer = std::make_shared<asio::steady_timer>(io, delay);
    timer->async_wait([timer, f = std::move(f)](boost::system::error_code) { f(); });
  }

  asio::io_context io;
  FakeSource source;
  FakeExchanger exchanger;
  RecordingSink sink;
  MemorySink memory;
  SystemClock clock;
  SystemRandom random;
  Engine engine;
};

}  // namespace

TEST_CASE("process mode: one exchange to every output, the watchdog told before the first write") {
  Rig rig(false);
  bool told = false;
  std::optional<int> code;
  asio::co_spawn(rig.io, rig.engine.run_once([&] {
    told = true;
    CHECK(rig.sink.keys.empty());
  }),
                 [&](std::exception_ptr, int c) { code = c; });
  rig.io.run_for(seconds(5));
  CHECK(code == 0);
  CHECK(told);
  CHECK(rig.sink.keys == std::vector<std::string>{"ASIA1"});
  REQUIRE(rig.memory.latest());
  CHECK(rig.memory.latest()->version == 1);
  CHECK(rig.memory.latest()->credentials.access_key_id == "ASIA1");
  CHECK(rig.memory.latest()->expiration.has_value());
}

TEST_CASE(
    "process mode: a failure writes nothing and exits 1; a sink that can't be prepared fails "
    "first") {
  Rig rig(false);
  rig.source.fail_fetch = true;
  bool told = false;
  std::optional<int> code;
  asio::co_spawn(rig.io, rig.engine.run_once([&] { told = true; }),
                 [&](std::exception_ptr, int c) { code = c; });
  rig.io.run_for(seconds(5));
  CHECK(code == 1);
  CHECK_FALSE(told);
  CHECK(rig.exchanger.calls == 0);
  CHECK(rig.sink.keys.empty());
  CHECK_FALSE(rig.memory.latest());

  rig.sink.refuse = true;
  auto ready = rig.sink.prepare();  // the driver prepares every output before any I/O
  REQUIRE_FALSE(ready.has_value());
  CHECK(ready.error().cls == errc::file);
}

TEST_CASE("daemon: renews before expiry, retries failures, stops with 0 on SIGTERM") {
  Rig rig(false);
  rig.exchanger.failures = {false, false, true, true, false};
  auto code = rig.daemon(milliseconds(1500), [&] { rig.engine.post(event::Terminate{"SIGTERM"}); });
  CHECK(code == 0);
  // 400 ms credentials renewed at half-life (~200 ms) with two failures (20 + 40 ms backoff).
  CHECK(rig.exchanger.calls >= 5);
  CHECK(rig.sink.keys.size() + 2 == static_cast<std::size_t>(rig.exchanger.calls));
  CHECK(rig.memory.latest()->version == rig.sink.keys.size());
  CHECK(rig.source.fetches == rig.exchanger.calls);  // a fresh identity for every exchange (JWT)
}

TEST_CASE(
    "daemon: waits for the first SVID, renews on rotation and not on bundle updates, reconnects") {
  Rig rig(true);
  rig.exchanger.lifetime = hours(1);  // no timed renewals during the test
  rig.at(milliseconds(100), [&] {
    CHECK(rig.exchanger.calls == 0);  // no SVID yet
    rig.source.push({true, "svid 1"});
  });
  rig.at(milliseconds(200), [&] {
    CHECK(rig.exchanger.calls == 1);
    rig.source.push({false, "svid 1"});  // bundle only
  });
  rig.at(milliseconds(300), [&] {
    CHECK(rig.exchanger.calls == 1);
    rig.source.push({true, "svid 2"});  // rotation
  });
  rig.at(milliseconds(400), [&] {
    CHECK(rig.exchanger.calls == 2);
    rig.source.end(make_error(errc::workload_unavailable, "agent restarting"));
  });
  rig.at(milliseconds(600), [&] {
    CHECK(rig.source.sessions == 2);  // reopened after the backoff
    rig.source.push({true, "svid 3"});
  });
  auto code = rig.daemon(milliseconds(800), [&] { rig.engine.post(event::Terminate{"SIGINT"}); });
  CHECK(code == 0);
  CHECK(rig.exchanger.calls == 3);
  CHECK(rig.sink.keys.size() == 3);
}

TEST_CASE("daemon: a Workload API that rejects the request stops it with 1") {
  Rig rig(true);
  rig.at(milliseconds(50), [&] {
    rig.source.end(make_error(errc::workload_rejected, "rejected (INVALID_ARGUMENT)"));
  });
  auto code = rig.daemon(seconds(5), [] {});
  CHECK(code == 1);
  CHECK(rig.exchanger.calls == 0);
}

TEST_CASE("daemon: a stop with an exchange in flight returns after the grace and writes nothing") {
  Rig rig(false);
  rig.exchanger.hang = true;
  const auto start = steady_clock::now();
  auto code = rig.daemon(milliseconds(100), [&] { rig.engine.post(event::Terminate{"SIGTERM"}); });
  CHECK(code == 0);
  CHECK(steady_clock::now() - start < seconds(3));
  CHECK(rig.exchanger.calls == 1);
  CHECK(rig.sink.keys.empty());
}
