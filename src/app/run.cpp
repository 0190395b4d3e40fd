#include "app/run.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

#include "app/serve.hpp"
#include "engine/engine.hpp"
#include "engine/exchangers.hpp"
#include "engine/sinks.hpp"
#include "engine/sources.hpp"
#include "net/http_client.hpp"
#include "spiffe/workload_client.hpp"
#include "util/log.hpp"
#include "util/overload.hpp"
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
  return std::visit(util::Overload{
                        [](const ToStdout&) -> std::unique_ptr<engine::Sink> {
                          return std::make_unique<engine::StdoutSink>();
                        },
                        [](const ToFile& f) -> std::unique_ptr<engine::Sink> {
                          return std::make_unique<engine::FileSink>(f.target);
                        },
                        [](const ToServer&) -> std::unique_ptr<engine::Sink> {
                          return std::make_unique<engine::MemorySink>();
                        },
                    },
                    output);
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

}  // namespace

int run(const Plan& plan) {
  const bool once = plan.mode == Mode::once;
  std::optional<Watchdog> watchdog;
  if (once) watchdog.emplace(plan.timeout + std::chrono::seconds(2));

  // Start-up checks before any network I/O: the outputs (a file we could never write), then the
  // HTTPS client's trust store.
  auto sink = make_sink(plan.output);
  if (auto ready = sink->prepare(); !ready) {
    log::error("{}", ready.error().message);
    return 1;
  }
  net::ClientOptions client_options;
  client_options.ca_bundle_path = plan.ca_bundle;
  client_options.proxy = plan.proxy;
  auto http = net::HttpClient::create(std::move(client_options));
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
    auto exchanger = make_exchanger(plan, **http);
    engine::SystemClock clock;
    engine::SystemRandom random;
    engine::Settings settings;
    settings.timeout = plan.timeout;
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
    if (once) {
      asio::co_spawn(io, engine.run_once([&] { watchdog->start_output(); }),
                     util::log_failures_or("the run", end, failed));
      io.run();
    } else {
      if (const auto* server = std::get_if<ToServer>(&plan.output)) {
        serve.emplace(io.get_executor(), plan.command, *server, plan.timeout,
                      static_cast<engine::MemorySink&>(*sink), engine);
        if (auto started = serve->start(); !started) {
          log::error("{}", started.error().message);
          return 1;
        }
      }
      // The file daemons' health endpoints (--health-addr): no credentials route.
      std::optional<serve::Server> health;
      if (plan.health) {
        health.emplace(io.get_executor(), [&](const serve::Request& request) {
          serve::RouteState state;
          state.metrics = &engine.metrics();
          state.version = AWH_VERSION;
          state.command = plan.command;
          state.credentials_route = false;
          return serve::answer(request, state, engine.metrics());
        });
        const asio::ip::tcp::endpoint where(asio::ip::make_address(plan.health->ip),
                                            static_cast<unsigned short>(plan.health->port));
        if (auto listened = health->listen({where}); !listened) {
          log::error("--health-addr: {}", listened.error().message);
          return 1;
        }
        log::info("health endpoints on http://{} (/healthz, /readyz, /metrics)",
                  serve::endpoint_text(health->local_endpoints().front()));
      }
      asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
      std::function<void()> listen = [&] {
        signals.async_wait([&](boost::system::error_code ec, int signal) {
          if (ec) return;
          if (signal == SIGHUP) {
            engine.post(engine::event::Sighup{});
          } else {
            engine.post(engine::event::Terminate{signal == SIGTERM ? "SIGTERM" : "SIGINT"});
          }
          listen();
        });
      };
      listen();
      asio::co_spawn(io, engine.run_daemon(), util::log_failures_or("the daemon", end, failed));
      io.run();
    }
  }
  return exit_code;
}

}  // namespace awh::app
