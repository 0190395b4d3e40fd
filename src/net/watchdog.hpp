#pragma once
// A deadline for socket operations, without Beast's stream wrapper (whose operations would be
// compiled again for every stream type): at `deadline` a timer closes the socket, so whatever
// operation is pending or starts later (a TLS read is several socket reads) fails at once.
// classify() turns that failure into asio::error::timed_out. The timer's handler holds only the
// shared state, which the destructor detaches, so a completion queued after the deadline's
// scope ended touches nothing. Used by the HTTPS steps (net/steps.cpp) and the local
// endpoint's server (serve/server.cpp).

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <memory>

namespace awh::net {

class Watchdog {
 public:
  using Clock = std::chrono::steady_clock;

  Watchdog(boost::asio::ip::tcp::socket& socket, Clock::time_point deadline)
      : timer_(socket.get_executor()), state_(std::make_shared<State>()) {
    state_->socket = &socket;
    timer_.expires_at(deadline);
    timer_.async_wait([state = state_](const boost::system::error_code& ec) {
      if (ec || state->socket == nullptr) return;
      state->fired = true;
      boost::system::error_code ignored;  // the caller reports the timeout, not the close
      state->socket->close(ignored);
    });
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    state_->socket = nullptr;
    timer_.cancel();
  }

  boost::system::error_code classify(const boost::system::error_code& ec) const {
    if (ec && state_->fired) return boost::asio::error::timed_out;
    return ec;
  }

 private:
  struct State {
    boost::asio::ip::tcp::socket* socket = nullptr;
    bool fired = false;
  };
  boost::asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

}  // namespace awh::net
