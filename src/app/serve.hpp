#pragma once
// The `*-serve` driver: the engine with an in-memory output, and the local credential endpoint
// (serve/server.hpp) on the same io_context; with --config, several engines, each served at its
// own path. Start-up (ARCHITECTURE.md, "Serving"):
//  - the bearer token (256 random bits) is written to --token-file, 0600, without a newline;
//  - the listener opens once the first credentials are in memory (or at once with
//    --listen-before-ready, answering 503 until then), and the environment lines SDKs need are
//    printed on stdout: AWS_CONTAINER_CREDENTIALS_FULL_URI for each path (one without
//    --config), then AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
//  - no credentials within --timeout: the engine is told to give up (exit 1).
// Threads: the io_context's only.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/plan.hpp"
#include "engine/engine.hpp"
#include "engine/sinks.hpp"
#include "serve/server.hpp"
#include "util/secret.hpp"

namespace awh::app {

// One path of the endpoint: the credentials an engine keeps in a store.
struct ServedRoute {
  std::string path;                       // serve::kCredentialsPath, or a --config path
  engine::MemorySink* store = nullptr;    // outlives the driver
  engine::Engine* engine = nullptr;       // outlives the driver
  std::optional<std::string> account_id;  // the AccountId field
};

class ServeDriver {
 public:
  // `*-serve`: one route at serve::kCredentialsPath, the IMDS routes as `config` says.
  ServeDriver(boost::asio::any_io_executor executor, std::string command, const ToServer& config,
              std::chrono::seconds timeout, engine::MemorySink& store, engine::Engine& engine);
  // --config: several routes (distinct paths), no IMDS routes (they serve a single role);
  // /readyz and /metrics speak for every engine (engine::combine).
  ServeDriver(boost::asio::any_io_executor executor, std::string command, const ToServer& config,
              std::chrono::seconds timeout, std::vector<ServedRoute> routes);

  // Before the engines run: the token file, the start-up deadline, and with
  // --listen-before-ready the listener. Errors: the token can't be made or written; a bind.
  // The listener opens once every route has credentials; at the deadline (`timeout`), with
  // none at all the engines are told to give up, with some it opens anyway (the others answer
  // 503 until theirs arrive). `ready` runs once, when every route has credentials and the
  // listener is open.
  Result<void> start(std::function<void()> ready = {});

  // The engines have stopped: stop accepting, let the requests in flight finish, then `done`.
  void stop(std::function<void()> done);

 private:
  serve::Reply handle(const serve::Request& request);
  Result<void> listen();
  void credentials_arrived();
  bool all_delivered() const;
  bool any_delivered() const;
  void give_up(const Error& error);

  std::string command_;
  const ToServer& config_;
  std::chrono::seconds timeout_;
  std::vector<ServedRoute> routes_;
  bool imds_enabled_ = true;
  util::SecretString token_;
  serve::ImdsSettings imds_;
  serve::ImdsTokens imds_tokens_;
  engine::Metrics requests_;  // several routes: the requests served (one engine: its own)
  serve::Server server_;
  boost::asio::steady_timer first_deadline_;
  bool listening_ = false;
  std::function<void()> ready_;
};

}  // namespace awh::app
