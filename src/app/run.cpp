#include "app/run.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include <fmt/format.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "app/serve.hpp"
#include "aws/clients.hpp"
#include "creds/cache_store.hpp"
#include "engine/cache.hpp"
#include "engine/engine.hpp"
#include "engine/exchangers.hpp"
#include "engine/file_batch.hpp"
#include "engine/sinks.hpp"
#include "engine/sources.hpp"
#include "net/http_client.hpp"
#include "spiffe/workload_client.hpp"
#include "util/log.hpp"
#include "util/overload.hpp"
#include "util/sd_notify.hpp"
#include "util/spawn.hpp"

namespace awh::app {
namespace {

namespace asio = boost::asio;

// A one-shot run must never outlive --timeout by much, whatever blocks. The watchdog ends the
// process (exit 1, nothing on stdout) a little after the deadline unless the run has finished
// or has started writing its output.
class Watchdog {
 public:
  explicit Watchdog(std::chrono::steady_clock::duration limit)
      : thread_([this, deadline = std::chrono::steady_clock::now() + limit] {
          std::unique_lock lock(mutex_);
          if (!done_cv_.wait_until(lock, deadline, [&] { return done_; }) && !output_started_) {
            log::error("gave up: the run exceeded --timeout (a step could not be interrupted)");
            std::_Exit(1);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
    thread_.join();
  }
  // From now on the watchdog lets the run finish: the output must not be cut short.
  void start_output() {
    std::lock_guard lock(mutex_);
    output_started_ = true;
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  bool output_started_ = false;
  std::thread thread_;
};

std::unique_ptr<engine::Sink> make_sink(const Output& output) {
  return std::visit(
      util::Overload{
          [](const ToStdout&) -> std::unique_ptr<engine::Sink> {
            return std::make_unique<engine::StdoutSink>();
          },
          [](const ToFile& f) -> std::unique_ptr<engine::Sink> {
            return std::make_unique<engine::FileSink>(f.target);
          },
          [](const ToServer&) -> std::unique_ptr<engine::Sink> {
            return std::make_unique<engine::MemorySink>();
          },
          [](const ToWhoami&) -> std::unique_ptr<engine::Sink> {
            return std::make_unique<engine::MemorySink>("memory, for GetCallerIdentity");
          },
      },
      output);
}

// The cache key's fields that come from the command line (creds/cache.hpp).
creds::CacheKeyInput cache_key_fields(const Plan& plan) {
  creds::CacheKeyInput key;
  key.command = plan.command;
  key.endpoint = fmt::format("{}://{}{}", plan.endpoint.tls ? "https" : "http",
                             plan.endpoint.host_header(), plan.endpoint.base_path);
  std::visit(util::Overload{
                 [&](const RolesAnywhere& ra) {
                   key.region = ra.session.region;
                   key.trust_anchor_arn = ra.session.trust_anchor_arn;
                   key.profile_arn = ra.session.profile_arn;
                   key.role_arn = ra.session.role_arn;
                   key.duration_seconds = ra.session.duration_seconds;
                   key.role_session_name = ra.session.role_session_name.value_or("");
                 },
                 [&](const Sts& sts) {
                   key.audience = sts.audience;
                   key.role_arn = sts.params.role_arn.value_or("");
                   key.duration_seconds = sts.params.duration_seconds;
                   key.role_session_name = sts.params.role_session_name.value_or("");
                 },
             },
             plan.exchange);
  return key;
}

// --dry-run: the identity, then the request the exchange would send, on stdout.
asio::awaitable<int> dry_run(engine::IdentitySource& source, engine::Exchanger& exchanger,
                             std::chrono::seconds timeout) {
  auto identity = co_await source.fetch(std::chrono::steady_clock::now() + timeout);
  if (!identity) {
    log::error("{}", identity.error().message);
    co_return 1;
  }
  auto text = exchanger.dry_run(*identity);
  if (!text) {
    log::error("{}", text.error().message);
    co_return 1;
  }
  std::fputs(
      fmt::format("# dry run with {}: this request was not sent\n{}", identity->description, *text)
          .c_str(),
      stdout);
  co_return std::fflush(stdout) == 0 ? 0 : 1;
}

std::string whoami_text(const aws::CallerIdentity& who, bool json) {
  if (json) {
    boost::json::object o;
    o["UserId"] = who.user_id;
    o["Account"] = who.account;
    o["Arn"] = who.arn;
    return boost::json::serialize(o) + "\n";
  }
  return fmt::format("Account: {}\nArn:     {}\nUserId:  {}\n", who.account, who.arn, who.user_id);
}

// whoami: the exchange (into memory), then GetCallerIdentity with those credentials.
asio::awaitable<int> whoami(engine::Engine& engine, const engine::MemorySink& store,
                            net::HttpClient& http, ToWhoami target, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (const int code = co_await engine.run_once(); code != 0) co_return code;
  const auto latest = store.latest();
  if (!latest) co_return 1;
  auto who = co_await aws::get_caller_identity(http, target.sts_endpoint, target.sts_region,
                                               latest->credentials, aws::RetryPolicy{}, deadline);
  if (!who) {
    log::error("the exchange worked, but {}", who.error().message);
    co_return 1;
  }
  std::fputs(whoami_text(*who, target.json).c_str(), stdout);
  co_return std::fflush(stdout) == 0 ? 0 : 1;
}

std::unique_ptr<engine::IdentitySource> make_source(const Plan& plan,
                                                    spiffe::WorkloadClient& workload) {
  return std::visit(util::Overload{
                        [&](const RolesAnywhere&) -> std::unique_ptr<engine::IdentitySource> {
                          return std::make_unique<engine::X509Source>(workload, plan.selector);
                        },
                        [&](const Sts& sts) -> std::unique_ptr<engine::IdentitySource> {
                          return std::make_unique<engine::JwtSource>(workload, sts.audience,
                                                                     plan.selector);
                        },
                    },
                    plan.exchange);
}

// The HTTPS client for the plan's endpoint: its trust store and proxy settings.
Result<std::unique_ptr<net::HttpClient>> make_http_client(const Plan& plan) {
  net::ClientOptions options;
  options.ca_bundle_path = plan.ca_bundle;
  options.proxy = plan.proxy;
  return net::HttpClient::create(std::move(options));
}

std::unique_ptr<engine::Exchanger> make_exchanger(const Plan& plan, net::HttpClient& http) {
  return std::visit(util::Overload{
                        [&](const RolesAnywhere& ra) -> std::unique_ptr<engine::Exchanger> {
                          return std::make_unique<engine::RolesAnywhereExchanger>(
                              http, plan.endpoint, ra.session);
                        },
                        [&](const Sts& sts) -> std::unique_ptr<engine::Exchanger> {
                          return std::make_unique<engine::StsExchanger>(http, plan.endpoint,
                                                                        sts.params);
                        },
                    },
                    plan.exchange);
}

// A sink that runs `first` after its first successful delivery: READY=1 to the service manager
// once the file holds credentials (systemd Type=notify: units ordered after this one start
// then), or once every output of a --config file has had its first delivery.
class OnFirstDelivery final : public engine::Sink {
 public:
  OnFirstDelivery(std::unique_ptr<engine::Sink> inner, std::function<void()> first)
      : inner_(std::move(inner)), first_(std::move(first)) {}
  Result<void> prepare() override { return inner_->prepare(); }
  Result<void> deliver(const creds::Credentials& credentials) override {
    return delivered(inner_->deliver(credentials));
  }
  void exchanging(bool on) override { inner_->exchanging(on); }
  asio::awaitable<Result<void>> deliver_async(const creds::Credentials& credentials) override {
    co_return delivered(co_await inner_->deliver_async(credentials));
  }
  std::string describe() const override { return inner_->describe(); }
  bool logs_delivery() const override { return inner_->logs_delivery(); }

 private:
  Result<void> delivered(Result<void> done) {
    if (done && first_) std::exchange(first_, nullptr)();
    return done;
  }
  std::unique_ptr<engine::Sink> inner_;
  std::function<void()> first_;
};

// WATCHDOG=1 every half of the manager's interval, from the event loop: it stops when the loop
// is stuck. No timer at all without WatchdogSec= (idle wake-ups matter).
void keep_watchdog_fed(boost::asio::steady_timer& timer, const util::Notifier& notifier) {
  const auto period = notifier.watchdog_period();
  if (!period) return;
  timer.expires_after(*period);
  timer.async_wait([&timer, &notifier](boost::system::error_code ec) {
    if (ec) return;
    notifier.send("WATCHDOG=1");
    keep_watchdog_fed(timer, notifier);
  });
}

// Delivers SIGHUP to `on_hup` and SIGTERM/SIGINT to `on_stop` (with the signal's name) until the
// io_context stops.
class Signals {
 public:
  Signals(asio::io_context& io, std::function<void()> on_hup,
          std::function<void(std::string)> on_stop)
      : set_(io, SIGTERM, SIGINT, SIGHUP),
        on_hup_(std::move(on_hup)),
        on_stop_(std::move(on_stop)) {
    listen();
  }

 private:
  void listen() {
    set_.async_wait([this](boost::system::error_code ec, int signal) {
      if (ec) return;
      if (signal == SIGHUP) {
        on_hup_();
      } else {
        on_stop_(signal == SIGTERM ? "SIGTERM" : "SIGINT");
      }
      listen();
    });
  }
  asio::signal_set set_;
  std::function<void()> on_hup_;
  std::function<void(std::string)> on_stop_;
};

// --health-addr: /healthz, /readyz and /metrics (no credentials route), answered by `handler`.
Result<void> open_health(std::optional<serve::Server>& health, asio::io_context& io,
                         const BindAddress& where, serve::Server::Handler handler) {
  health.emplace(io.get_executor(), std::move(handler));
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(where.ip),
                                         static_cast<unsigned short>(where.port));
  if (auto listened = health->listen({endpoint}); !listened) {
    return make_error(errc::network, "--health-addr: " + listened.error().message);
  }
  log::info("health endpoints on http://{} (/healthz, /readyz, /metrics)",
            serve::endpoint_text(health->local_endpoints().front()));
  return {};
}

// --config: one engine per exchange of the file (each with its own scheduler, so its own
// jittered renewals and backoff), over one Workload API client and one shared X.509-SVID
// stream. The profiles of one file are written through one ProfileFile, which coalesces
// overlapping writes into one rename; the served exchanges each keep a MemorySink that the
// endpoint of the file's serve block answers from at the exchange's path. A failing exchange
// keeps failing alone; an engine that stops for good (the agent rejects us) stops the others,
// and the exit code is the worst. Ready (READY=1, /readyz) means every output has had its first
// delivery (and, for /readyz, every exchange's credentials have more than 5 minutes left).
int run_config(const Plan& plan) {
  auto http = make_http_client(plan);
  if (!http) {
    log::error("{}", http.error().message);
    return 1;
  }
  const util::Notifier notifier = util::Notifier::from_environment();
  asio::io_context io(1);
  int exit_code = 0;
  {
    // Declaration order is destruction order reversed: the endpoints go first, then the engines
    // and their sources, the files, the shared stream, and the Workload API client before the
    // io_context.
    spiffe::WorkloadClient workload(io.get_executor(), plan.workload_api_target);
    engine::SharedX509Stream stream(io.get_executor(), workload);
    std::map<std::string, std::unique_ptr<engine::ProfileFile>> files;
    engine::SystemClock clock;
    engine::SystemRandom random;
    struct Lane {
      std::unique_ptr<engine::IdentitySource> source;
      std::unique_ptr<engine::Exchanger> exchanger;
      std::vector<std::unique_ptr<engine::Sink>> sinks;
      engine::MemorySink* store = nullptr;  // a served exchange's credentials, in sinks
      std::unique_ptr<engine::Engine> engine;
    };
    std::vector<Lane> lanes;
    std::size_t undelivered = 0;  // outputs still waiting for their first delivery
    const auto delivered_once = [&] {
      if (--undelivered != 0) return;
      log::info("every exchange has delivered its credentials");
      notifier.send("READY=1\nSTATUS=every exchange has delivered its credentials");
    };
    for (const Plan& one : plan.exchanges) {
      Lane lane;
      if (const auto* to_file = std::get_if<ToFile>(&one.output)) {
        const auto& target = to_file->target;
        auto& file = files[target.path];
        if (!file) file = std::make_unique<engine::ProfileFile>(io.get_executor(), target);
        auto sink = file->sink_for(target.profile);
        if (auto ready = sink->prepare(); !ready) {
          log::error("{}", ready.error().message);
          return 1;
        }
        lane.sinks.push_back(std::make_unique<OnFirstDelivery>(std::move(sink), delivered_once));
      }
      if (one.served) {
        auto store = std::make_unique<engine::MemorySink>(
            fmt::format("the credentials served at {}", one.served->path));
        lane.store = store.get();
        lane.sinks.push_back(std::make_unique<OnFirstDelivery>(std::move(store), delivered_once));
      }
      undelivered += lane.sinks.size();
      if (std::holds_alternative<RolesAnywhere>(one.exchange)) {
        lane.source = std::make_unique<engine::X509Source>(workload, stream, one.selector);
      } else {
        lane.source = make_source(one, workload);
      }
      lane.exchanger = make_exchanger(one, **http);
      engine::Settings settings;
      settings.timeout = one.timeout;
      settings.policy.min_trigger_spacing = one.min_renew_interval;
      settings.keeper =
          std::holds_alternative<ToFile>(one.output) ? "the file" : "the in-memory store";
      std::vector<engine::Sink*> sinks;
      for (auto& sink : lane.sinks) sinks.push_back(sink.get());
      lane.engine = std::make_unique<engine::Engine>(
          io.get_executor(), *lane.source, *lane.exchanger, sinks, clock, random, settings);
      lanes.push_back(std::move(lane));
    }
    log::info("{}: {} exchange(s) from {}, one Workload API stream", plan.command, lanes.size(),
              plan.config_path);

    std::optional<ServeDriver> serve;
    if (plan.serve) {
      std::vector<ServedRoute> routes;
      for (std::size_t i = 0; i < lanes.size(); ++i) {
        if (const auto& served = plan.exchanges[i].served) {
          routes.push_back(
              {served->path, lanes[i].store, lanes[i].engine.get(), served->account_id});
        }
      }
      serve.emplace(io.get_executor(), plan.command, *plan.serve, plan.timeout, std::move(routes));
      if (auto started = serve->start(); !started) {
        log::error("{}", started.error().message);
        return 1;
      }
    }
    engine::Metrics health_requests;
    std::optional<serve::Server> health;
    if (plan.health) {
      auto opened = open_health(health, io, *plan.health, [&](const serve::Request& request) {
        std::vector<const engine::Metrics*> parts;
        for (const auto& lane : lanes) parts.push_back(&lane.engine->metrics());
        engine::Metrics combined = engine::combine(parts);
        combined.requests = health_requests.requests;
        serve::RouteState state;
        state.metrics = &combined;
        state.version = AWH_VERSION;
        state.command = plan.command;
        state.credentials_route = false;
        return serve::answer(request, state, health_requests);
      });
      if (!opened) {
        log::error("{}", opened.error().message);
        return 1;
      }
    }

    const auto stop_all = [&](const std::string& why) {
      for (auto& [path, file] : files) file->stop();
      for (auto& lane : lanes) lane.engine->post(engine::event::Terminate{why});
    };
    Signals signals(
        io,
        [&] {
          for (auto& lane : lanes) lane.engine->post(engine::event::Sighup{});
        },
        [&](const std::string& why) {
          notifier.send("STOPPING=1");
          stop_all(why);
        });
    asio::steady_timer watchdog_timer(io);
    keep_watchdog_fed(watchdog_timer, notifier);
    // The endpoint drains before the loop stops: requests in flight finish (bounded).
    asio::steady_timer drain_limit(io);
    std::size_t running = lanes.size();
    bool stopping = false;
    const auto ended = [&](int code) {
      exit_code = std::max(exit_code, code);
      if (--running == 0) {
        if (!serve) {
          io.stop();
          return;
        }
        serve->stop([&] { io.stop(); });
        drain_limit.expires_after(std::chrono::milliseconds(400));
        drain_limit.async_wait([&](boost::system::error_code ec) {
          if (!ec) io.stop();
        });
        return;
      }
      if (code != 0 && !stopping) {
        stopping = true;
        stop_all("another exchange stopped for good");
      }
    };
    for (auto& lane : lanes) {
      asio::co_spawn(io, lane.engine->run_daemon(),
                     util::log_failures_or("the daemon", ended, [&] { ended(1); }));
    }
    io.run();
  }
  return exit_code;
}

// Core dumps and gRPC's transport trace would expose secrets (README, "Secrets in memory").
void protect_secrets(const Plan& plan) {
  if (!plan.allow_core_dumps) {
    // A core of the daemon would hold the live secret key, the session token and the SVID key.
    // Not dumpable also keeps other processes of our user from ptrace and /proc/<pid>/mem.
    const rlimit none{0, 0};
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || ::setrlimit(RLIMIT_CORE, &none) != 0) {
      log::warn("cannot disable core dumps: {}", std::generic_category().message(errno));
    }
  }
  if (!plan.allow_grpc_trace) {
    // gRPC reads these when it initialises (the first channel, later in run()). GRPC_TRACE=tcp
    // with GRPC_VERBOSITY=DEBUG hex-dumps every byte the Workload API sends: the SVID key.
    for (const char* name : {"GRPC_TRACE", "GRPC_VERBOSITY"}) {
      if (std::getenv(name) != nullptr) {
        log::info("{} is ignored (secrets would reach the log); --allow-grpc-trace keeps it", name);
        ::unsetenv(name);
      }
    }
  }
}

}  // namespace

int run(const Plan& plan) {
  protect_secrets(plan);
  // A reader that went away (`... | head -c0`) is a write error (EPIPE) reported in one line
  // with exit 1, not a silent death by SIGPIPE (exit 141).
  std::signal(SIGPIPE, SIG_IGN);
  if (plan.listing) return list_svids(plan);
  if (!plan.exchanges.empty()) return run_config(plan);
  const bool once = plan.mode == Mode::once;
  std::optional<Watchdog> watchdog;
  if (once) watchdog.emplace(plan.timeout + std::chrono::seconds(2));

  // Start-up checks before any network I/O: the outputs (a file we could never write; a dry run
  // writes nothing), the cache directory, then the HTTPS client's trust store.
  // systemd's notification socket (Type=notify), for the daemons only.
  const util::Notifier notifier = once ? util::Notifier() : util::Notifier::from_environment();
  auto sink = make_sink(plan.output);
  if (notifier.enabled() && std::holds_alternative<ToFile>(plan.output)) {
    sink = std::make_unique<OnFirstDelivery>(
        std::move(sink), [&notifier] { notifier.send("READY=1\nSTATUS=credentials written"); });
  }
  if (auto ready = plan.dry_run ? Result<void>() : sink->prepare(); !ready) {
    log::error("{}", ready.error().message);
    return 1;
  }
  if (plan.cache_dir) {
    if (auto ready = creds::prepare_cache_dir(*plan.cache_dir); !ready) {
      log::error("{}", ready.error().message);
      return 1;
    }
  }
  auto http = make_http_client(plan);
  if (!http) {
    log::error("{}", http.error().message);
    return 1;
  }
  log::debug("endpoint {}://{} (from {})", plan.endpoint.tls ? "https" : "http",
             plan.endpoint.host_header(), plan.endpoint_source);
  if (const auto* proxy = net::proxy_for(plan.proxy, plan.endpoint)) {
    log::debug("through proxy {} (from {})", proxy->display(), proxy->source);
  }

  asio::io_context io(1);
  int exit_code = 1;
  {
    // Declared after the io_context: the Workload API client waits for gRPC to finish its calls
    // before the io_context goes.
    spiffe::WorkloadClient workload(io.get_executor(), plan.workload_api_target);
    auto source = make_source(plan, workload);
    std::unique_ptr<engine::Exchanger> exchanger = make_exchanger(plan, **http);
    engine::SystemClock clock;
    engine::SystemRandom random;
    // --cache: a step in front of the exchange. Concurrent runs wait for the one exchanging at
    // most 30 s (or --timeout).
    std::unique_ptr<engine::Exchanger> uncached;
    if (plan.cache_dir) {
      uncached = std::move(exchanger);
      exchanger = std::make_unique<engine::CachingExchanger>(
          *uncached, creds::CacheStore(*plan.cache_dir), cache_key_fields(plan), clock,
          std::min<std::chrono::milliseconds>(plan.timeout, std::chrono::seconds(30)));
    }
    engine::Settings settings;
    settings.timeout = plan.timeout;
    if (once) settings.min_lifetime = std::chrono::seconds(60);
    settings.policy.min_trigger_spacing = plan.min_renew_interval;
    if (std::holds_alternative<ToFile>(plan.output)) settings.keeper = "the file";
    if (std::holds_alternative<ToServer>(plan.output)) settings.keeper = "the in-memory store";
    engine::Engine engine(io.get_executor(), *source, *exchanger, {sink.get()}, clock, random,
                          settings);

    // A served endpoint drains before the loop stops: requests in flight finish (bounded).
    std::optional<ServeDriver> serve;
    asio::steady_timer drain_limit(io);
    const auto end = [&](int code) {
      exit_code = code;
      if (!serve) {
        io.stop();  // nothing else may keep the loop alive (an exchange abandoned at a stop)
        return;
      }
      serve->stop([&] { io.stop(); });
      drain_limit.expires_after(std::chrono::milliseconds(400));
      drain_limit.async_wait([&](boost::system::error_code ec) {
        if (!ec) io.stop();
      });
    };
    const auto failed = [&] { end(1); };
    if (plan.dry_run) {
      asio::co_spawn(io, dry_run(*source, *exchanger, plan.timeout),
                     util::log_failures_or("the dry run", end, failed));
      io.run();
    } else if (const auto* target = std::get_if<ToWhoami>(&plan.output)) {
      asio::co_spawn(io,
                     whoami(engine, static_cast<const engine::MemorySink&>(*sink), **http, *target,
                            plan.timeout),
                     util::log_failures_or("whoami", end, failed));
      io.run();
    } else if (once) {
      asio::co_spawn(io, engine.run_once([&] { watchdog->start_output(); }),
                     util::log_failures_or("the run", end, failed));
      io.run();
    } else {
      if (const auto* server = std::get_if<ToServer>(&plan.output)) {
        serve.emplace(io.get_executor(), plan.command, *server, plan.timeout,
                      static_cast<engine::MemorySink&>(*sink), engine);
        if (auto started =
                serve->start([&] { notifier.send("READY=1\nSTATUS=serving credentials"); });
            !started) {
          log::error("{}", started.error().message);
          return 1;
        }
      }
      // The file daemons' health endpoints (--health-addr): no credentials route.
      std::optional<serve::Server> health;
      if (plan.health) {
        auto opened = open_health(health, io, *plan.health, [&](const serve::Request& request) {
          serve::RouteState state;
          state.metrics = &engine.metrics();
          state.version = AWH_VERSION;
          state.command = plan.command;
          state.credentials_route = false;
          return serve::answer(request, state, engine.metrics());
        });
        if (!opened) {
          log::error("{}", opened.error().message);
          return 1;
        }
      }
      asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
      std::function<void()> listen = [&] {
        signals.async_wait([&](boost::system::error_code ec, int signal) {
          if (ec) return;
          if (signal == SIGHUP) {
            engine.post(engine::event::Sighup{});
          } else {
            notifier.send("STOPPING=1");
            engine.post(engine::event::Terminate{signal == SIGTERM ? "SIGTERM" : "SIGINT"});
          }
          listen();
        });
      };
      listen();
      asio::steady_timer watchdog_timer(io);
      keep_watchdog_fed(watchdog_timer, notifier);
      asio::co_spawn(io, engine.run_daemon(), util::log_failures_or("the daemon", end, failed));
      io.run();
    }
  }
  return exit_code;
}

}  // namespace awh::app
