#pragma once
// The pieces the engine (engine/engine.hpp) is assembled from. Each is an interface, so that a
// new identity source, exchange or output plugs in without touching the engine, and tests plug
// in fakes. All of them are used from the io_context's thread only.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "creds/credentials.hpp"
#include "engine/scheduler.hpp"
#include "spiffe/svid.hpp"
#include "util/error.hpp"
#include "util/secret.hpp"

namespace awh::engine {

using Deadline = std::chrono::steady_clock::time_point;

// What an exchange is made with: an X.509-SVID (Roles Anywhere) or a JWT-SVID (STS).
struct Identity {
  std::shared_ptr<const spiffe::X509Svid> x509;
  util::SecretString jwt;   // secret (a bearer token): never log
  std::string description;  // "X.509-SVID spiffe://... (serial N)" or "JWT-SVID spiffe://..."
  std::optional<WallTime> expires{};  // the SVID's NotAfter or the JWT-SVID's exp (metrics)
  std::string spiffe_id{};            // the SVID's SPIFFE ID (a JWT-SVID's subject)
};

// Where identities come from: the Workload API.
class IdentitySource {
 public:
  virtual ~IdentitySource() = default;

  // The identity to exchange now: the newest streamed one if there is one, else fetched and
  // checked (retrying while the agent isn't ready) until `deadline`.
  virtual boost::asio::awaitable<Result<Identity>> fetch(Deadline deadline) = 0;

  // Streaming sources (the X.509-SVID stream) push updates; the daemon watches them.
  virtual bool streams() const { return false; }
  // One stream session: opens the stream, reports each usable update to `on_update`, and returns
  // the error that ended it. cancel_stream() ends it early.
  virtual boost::asio::awaitable<Error> stream(std::function<void(event::SvidUpdate)> on_update) {
    (void)on_update;
    co_return make_error(errc::internal, "this identity source does not stream");
  }
  virtual void cancel_stream() {}
};

// Identity -> AWS credentials: Roles Anywhere CreateSession or STS AssumeRoleWithWebIdentity,
// with the exchange's own retries of transient failures.
class Exchanger {
 public:
  virtual ~Exchanger() = default;
  virtual boost::asio::awaitable<Result<creds::Credentials>> exchange(const Identity& identity,
                                                                      Deadline deadline) = 0;
  virtual std::string describe() const = 0;  // "Roles Anywhere rolesanywhere.us-east-1...:443"
  // `--dry-run`: the request exchange() would send first, as text, built and signed but not
  // sent. Public data only: never a private key, a JWT's signature or a credential.
  virtual Result<std::string> dry_run(const Identity& identity) {
    (void)identity;
    return make_error(errc::usage, "this exchange has no --dry-run");
  }
};

// Where credentials go: stdout, a credentials-file profile, an in-memory store.
class Sink {
 public:
  virtual ~Sink() = default;
  // Start-up checks, before any network I/O (e.g. the file can be written).
  virtual Result<void> prepare() { return {}; }
  virtual Result<void> deliver(const creds::Credentials& credentials) = 0;
  virtual std::string describe() const = 0;  // "profile [default] of /path", "stdout"
  // Outputs that coalesce writes with other engines' outputs (several profiles of one file,
  // engine/file_batch.hpp) are told when an exchange for them starts and ends, and are
  // delivered to through deliver_async(), which may wait (bounded) for the others; the rest
  // ignore the first and deliver synchronously.
  virtual void exchanging(bool on) { (void)on; }
  virtual boost::asio::awaitable<Result<void>> deliver_async(
      const creds::Credentials& credentials) {
    co_return deliver(credentials);
  }
  // Whether a one-shot run logs the delivery (stdout speaks for itself).
  virtual bool logs_delivery() const { return true; }
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Now now() = 0;
};

class SystemClock final : public Clock {
 public:
  Now now() override {
    return {std::chrono::steady_clock::now(), std::chrono::system_clock::now()};
  }
};

// Jitter only: not for anything secret.
class SystemRandom final : public Random {
 public:
  double uniform01() override { return std::uniform_real_distribution<double>(0.0, 1.0)(engine_); }

 private:
  std::mt19937_64 engine_{std::random_device{}()};
};

}  // namespace awh::engine
