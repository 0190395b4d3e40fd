#pragma once
// What the net tests share: running one coroutine to completion on an io_context, a resolver
// that hangs until the test opens its gate, and a bounded wait.

#include <doctest/doctest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "net/resolve.hpp"
#include "util/error.hpp"

namespace awh::nettest {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Runs `task` on `io` until it (and everything else on `io`) is done; rethrows its exception.
template <class T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  std::optional<T> out;
  std::exception_ptr error;
  boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    if (e) {
      error = e;
    } else {
      out.emplace(std::move(value));
    }
  });
  io.restart();
  io.run();
  if (error) std::rethrow_exception(error);
  REQUIRE(out.has_value());
  return std::move(*out);
}

// Blocks lookup threads until opened.
class Gate {
 public:
  void wait() {
    std::unique_lock lock(mutex_);
    opened_.wait(lock, [&] { return open_; });
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    opened_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
};

// Polls `done` until it holds or `limit` passes; true if it held.
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
  const auto end = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// A resolver that blocks on `gate`; `alive` is shared with it, so the test sees (by the weak_ptr
// expiring) when the lookup thread has dropped its copy, i.e. has finished with the lookup.
struct HangingResolver {
  std::shared_ptr<Gate> gate = std::make_shared<Gate>();
  std::shared_ptr<int> alive = std::make_shared<int>(0);

  // The resolver to inject.
  net::Resolver resolver() const {
    return [gate = gate, alive = alive](const std::string&,
                                        const std::string&) -> Result<net::Endpoints> {
      gate->wait();
      return net::Endpoints{{boost::asio::ip::make_address("127.0.0.1"), 443}};
    };
  }
  // Drops the test's own reference: the result expires once every copy of the resolver is gone.
  std::weak_ptr<int> watch() {
    std::weak_ptr<int> w = alive;
    alive.reset();
    return w;
  }
};

}  // namespace awh::nettest
