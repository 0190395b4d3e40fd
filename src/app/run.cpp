#include "app/run.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <openssl/crypto.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <exception>
#include <thread>

#include "app/daemon.hpp"
#include "app/pipeline.hpp"
#include "creds/credentials.hpp"
#include "creds/file_sink.hpp"
#include "spiffe/workload_client.hpp"
#include "util/log.hpp"

namespace awh::app {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// A one-shot run must never outlive --timeout by much, whatever blocks: Asio's resolver runs
// getaddrinfo on a thread that can't be cancelled, and a broken DNS can hold it for 30 s or
// more. The watchdog ends the process (exit 1, nothing on stdout) a little after the deadline
// unless the run has finished or has started writing its output.
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

// Writes the credential_process JSON to stdout: all of it, or an error.
bool print_json(const creds::Credentials& credentials) {
  std::string json = creds::credential_process_json(credentials);
  json.push_back('\n');
  const bool written = std::fwrite(json.data(), 1, json.size(), stdout) == json.size() && std::fflush(stdout) == 0;
  OPENSSL_cleanse(json.data(), json.size());
  if (!written) log::error("cannot write the credentials to stdout");
  return written;
}

// The one-shot commands (*-credential-process, *-credential-file-oneshot): one identity, one
// exchange, one output.
asio::awaitable<int> run_once(const Options& options, spiffe::WorkloadClient& workload, Watchdog& watchdog) {
  const auto deadline = Clock::now() + options.timeout;
  const bool to_file = writes_file(options.command);
  auto http = prepare(options);  // a file we could never write fails before any request
  if (!http) {
    log::error("{}", http.error().message);
    co_return 1;
  }
  // (Not `co_await (c ? a() : b())`: GCC 12 miscompiles a conditional of awaitables.)
  Result<Exchanged> exchanged = make_error(errc::internal, "no exchange");
  if (is_jwt(options.command)) {
    exchanged = co_await exchange_jwt(**http, workload, options, deadline);
  } else {
    exchanged = co_await exchange_x509(**http, workload, options, deadline);
  }
  if (!exchanged) {
    log::error("{}", exchanged.error().message);
    co_return 1;
  }
  const auto& [credentials, identity] = *exchanged;

  watchdog.start_output();
  if (!to_file) co_return print_json(credentials) ? 0 : 1;
  if (auto written = creds::write_credentials(options.file, credentials); !written) {
    log::error("{}", written.error().message);
    co_return 1;
  }
  log::info("wrote credentials for {} to profile [{}] of {}; they expire at {}", identity, options.file.profile,
            options.file.path, credentials.expiration);
  co_return 0;
}

}  // namespace

int run(const Options& options) {
  if (is_daemon(options.command)) return run_daemon(options);
  asio::io_context io(1);
  int exit_code = 1;
  Watchdog watchdog(options.timeout + std::chrono::seconds(2));
  {
    spiffe::WorkloadClient workload(io.get_executor(), options.workload_api_target);
    asio::co_spawn(io, run_once(options, workload, watchdog),
                   [&](std::exception_ptr e, int code) {
                     if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         log::error("internal error: {}", ex.what());
                       } catch (...) {
                         log::error("internal error: unknown exception");
                       }
                       exit_code = 1;
                       return;
                     }
                     exit_code = code;
                   });
    io.run();
  }  // the Workload API client waits for gRPC to finish its calls before the io_context goes
  return exit_code;
}

}  // namespace awh::app
