#pragma once
// Waking a waiting coroutine on the same io_context. Level-triggered, for one waiter at a time:
// a notify() before or during a wait ends it; the wait consumes it. Not thread-safe: call
// notify() on the io_context's thread (other threads post to it first).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

namespace awh::util {

class AsyncEvent {
 public:
  using Clock = std::chrono::steady_clock;

  explicit AsyncEvent(boost::asio::any_io_executor executor) : timer_(std::move(executor)) {}

  void notify() {
    pending_ = true;
    timer_.cancel();
  }

  // Until notified (true) or `when` comes, or the awaiting coroutine is cancelled (false).
  boost::asio::awaitable<bool> wait_until(Clock::time_point when) {
    if (!pending_) {
      timer_.expires_at(when);
      co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    const bool notified = pending_;
    pending_ = false;
    co_return notified;
  }
  boost::asio::awaitable<bool> wait() { return wait_until(Clock::time_point::max()); }

 private:
  boost::asio::steady_timer timer_;
  bool pending_ = false;
};

}  // namespace awh::util
