#pragma once
// The `*-serve` driver: the engine with an in-memory output, and the local credential endpoint
// (serve/server.hpp) on the same io_context. Start-up (ARCHITECTURE.md, "Serving"):
//  - the bearer token (256 random bits) is written to --token-file, 0600, without a newline;
//  - the listener opens once the first credentials are in memory (or at once with
//    --listen-before-ready, answering 503 until then), and the two environment lines SDKs need
//    are printed on stdout;
//  - no credentials within --timeout: the engine is told to give up (exit 1).
// Threads: the io_context's only.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>

#include "app/plan.hpp"
#include "engine/engine.hpp"
#include "engine/sinks.hpp"
#include "serve/server.hpp"
#include "util/secret.hpp"

namespace awh::app {

class ServeDriver {
 public:
  ServeDriver(boost::asio::any_io_executor executor, std::string command, const ToServer& config,
              std::chrono::seconds timeout, engine::MemorySink& store, engine::Engine& engine);

  // Before the engine runs: the token file, the start-up deadline, and with
  // --listen-before-ready the listener. Errors: the token can't be made or written; a bind.
  // `ready` runs once, when the first credentials are in memory and the listener is open.
  Result<void> start(std::function<void()> ready = {});

  // The engine has stopped: stop accepting, let the requests in flight finish, then `done`.
  void stop(std::function<void()> done);

 private:
  Result<void> listen();
  void credentials_arrived();

  std::string command_;
  const ToServer& config_;
  std::chrono::seconds timeout_;
  engine::MemorySink& store_;
  engine::Engine& engine_;
  util::SecretString token_;
  serve::ImdsSettings imds_;
  serve::ImdsTokens imds_tokens_;
  serve::Server server_;
  boost::asio::steady_timer first_deadline_;
  bool listening_ = false;
  std::function<void()> ready_;
};

}  // namespace awh::app
