#include "serve/server.hpp"

#include <netinet/in.h>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/unicast.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <map>
#include <set>
#include <string>

#include "net/watchdog.hpp"
#include "serve/request.hpp"
#include "util/log.hpp"
#include "util/secret.hpp"
#include "util/spawn.hpp"

namespace awh::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// Shared by the server and every session, so that a session frame destroyed late (at the
// io_context's destruction) never touches a freed Server.
struct Server::State {
  asio::any_io_executor executor;
  Handler handler;
  ServerLimits limits;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::set<tcp::socket*> idle;  // sessions waiting for a request: cancelled at stop()
  std::size_t connections = 0;
  bool stopping = false;
  std::function<void()> on_drained;
  // Rate-limited logging of rejected requests, by class.
  struct Rejections {
    std::chrono::steady_clock::time_point last{};
    long suppressed = 0;
  };
  std::map<std::string, Rejections> rejections;

  void rejected(const std::string& what) {
    auto& r = rejections[what];
    const auto now = std::chrono::steady_clock::now();
    if (r.last != std::chrono::steady_clock::time_point{} &&
        now - r.last < std::chrono::seconds(10)) {
      ++r.suppressed;
      return;
    }
    log::warn("rejected a request: {}{}", what,
              r.suppressed ? fmt::format(" ({} more like it in the last 10 s)", r.suppressed) : "");
    r.last = now;
    r.suppressed = 0;
  }

  void session_ended() {
    --connections;
    if (stopping && connections == 0 && on_drained) std::exchange(on_drained, nullptr)();
  }
};

namespace {

Reply text_reply(unsigned status, std::string body) {
  Reply r;
  r.status = status;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

// The sessions run on plain sockets, each operation bounded by a net::Watchdog: Beast's
// tcp_stream would compile its read and write operations once more, with timers of their own.
using Clock = net::Watchdog::Clock;

asio::awaitable<void> write_reply(tcp::socket& socket, Reply reply, unsigned version,
                                  bool keep_alive, std::chrono::milliseconds timeout, bool& ok) {
  http::response<http::string_body> res{static_cast<http::status>(reply.status), version};
  res.set(http::field::content_type, reply.content_type);
  res.set(http::field::cache_control, "no-store");
  for (const auto& [name, value] : reply.headers) res.set(name, value);
  res.keep_alive(keep_alive);
  res.body() = std::move(reply.body);
  res.prepare_payload();
  const net::Watchdog watchdog(socket, Clock::now() + timeout);
  auto [ec, n] = co_await http::async_write(socket, res, kUseTuple);
  ok = !ec;
  if (reply.secret) util::wipe(res.body());
}

asio::awaitable<void> session(std::shared_ptr<Server::State> state, tcp::socket socket) {
  beast::flat_buffer buffer;
  bool first = true;
  while (!state->stopping) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(state->limits.header_bytes));
    parser.body_limit(state->limits.body_bytes);
    // Between requests the connection is idle (closed at stop); once a request starts, all of
    // it must arrive within the read timeout.
    if (buffer.size() == 0) {
      state->idle.insert(&socket);
      boost::system::error_code ec;
      {
        const net::Watchdog watchdog(socket, Clock::now() + (first ? state->limits.read_timeout
                                                                   : state->limits.idle_timeout));
        auto [read_ec, n] = co_await http::async_read_header(socket, buffer, parser, kUseTuple);
        ec = watchdog.classify(read_ec);
      }
      state->idle.erase(&socket);
      if (ec == http::error::header_limit || ec == http::error::body_limit) {
        const bool header = ec == http::error::header_limit;
        state->rejected(header ? "request header too large" : "request body too large");
        bool ok = false;
        co_await write_reply(socket, text_reply(header ? 431 : 413, "request too large\n"), 11,
                             false, state->limits.write_timeout, ok);
        break;
      }
      if (ec) {
        if (ec == asio::error::timed_out && buffer.size() > 0)
          state->rejected("request not complete in time");
        break;
      }
    }
    first = false;
    boost::system::error_code ec;
    {
      const net::Watchdog watchdog(socket, Clock::now() + state->limits.read_timeout);
      auto [read_ec, n] = co_await http::async_read(socket, buffer, parser, kUseTuple);
      ec = watchdog.classify(read_ec);
    }
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      state->rejected(ec == http::error::body_limit ? "request body too large"
                                                    : "request header too large");
      bool ok = false;
      co_await write_reply(
          socket, text_reply(ec == http::error::body_limit ? 413u : 431u, "request too large\n"),
          11, false, state->limits.write_timeout, ok);
      break;
    }
    if (ec) {
      if (ec == asio::error::timed_out) state->rejected("request not complete in time");
      break;
    }
    const auto& req = parser.get();
    Reply reply = state->handler(request_view(req));
    if (reply.status == 401) state->rejected("missing or wrong bearer token (401)");
    const bool keep_alive = req.keep_alive() && !state->stopping;
    bool ok = false;
    co_await write_reply(socket, std::move(reply), req.version(), keep_alive,
                         state->limits.write_timeout, ok);
    if (!ok || !keep_alive) break;
  }
  boost::system::error_code ignored;  // the peer may be gone already
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

asio::awaitable<void> accept_loop(std::shared_ptr<Server::State> state, tcp::acceptor& acceptor) {
  while (!state->stopping) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
    if (state->stopping) break;
    if (ec) {
      if (ec == asio::error::operation_aborted) break;
      // EMFILE and the like: don't spin; the next accept may succeed once connections close.
      state->rejected(fmt::format("accept failed: {}", ec.message()));
      asio::steady_timer pause(state->executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    if (state->connections >= state->limits.max_connections) {
      state->rejected("too many connections");
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    // IMDS answers with an IP TTL (hop limit) of 1 so they can't travel past the host; ours do the
    // same (best effort: a failure leaves the system default).
    boost::system::error_code ignored;
    if (socket.local_endpoint(ignored).address().is_v6()) {
      socket.set_option(asio::ip::unicast::hops(state->limits.hop_limit), ignored);
    } else {
      const int ttl = state->limits.hop_limit;
      (void)::setsockopt(socket.native_handle(), IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    }
    ++state->connections;
    asio::co_spawn(state->executor, session(state, std::move(socket)),
                   util::log_failures(
                       "a connection", [] {}, [state] { state->session_ended(); }));
  }
}

}  // namespace

std::string endpoint_text(const tcp::endpoint& endpoint) {
  const auto ip = endpoint.address().to_string();
  return endpoint.address().is_v6() ? fmt::format("[{}]:{}", ip, endpoint.port())
                                    : fmt::format("{}:{}", ip, endpoint.port());
}

Server::Server(asio::any_io_executor executor, Handler handler, ServerLimits limits)
    : state_(std::make_shared<State>()) {
  state_->executor = std::move(executor);
  state_->handler = std::move(handler);
  state_->limits = limits;
}

Server::~Server() {
  state_->stopping = true;
  for (auto& a : state_->acceptors) {
    boost::system::error_code ignored;
    a->close(ignored);
  }
}

Result<void> Server::listen(const std::vector<tcp::endpoint>& endpoints) {
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  for (const auto& endpoint : endpoints) {
    auto acceptor = std::make_unique<tcp::acceptor>(state_->executor);
    boost::system::error_code ec;
    const auto where = [&](std::string_view what) {
      Error e = make_error(errc::network, fmt::format("cannot listen on {}: {}: {}",
                                                      endpoint_text(endpoint), what, ec.message()));
      if (ec.category() == boost::system::system_category()) e.sys_errno = ec.value();
      return e;
    };
    if (acceptor->open(endpoint.protocol(), ec); ec) return where("open");
    if (endpoint.address().is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
    acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (acceptor->bind(endpoint, ec); ec) return where("bind");
    if (acceptor->listen(asio::socket_base::max_listen_connections, ec); ec) return where("listen");
    acceptors.push_back(std::move(acceptor));
  }
  for (auto& acceptor : acceptors) {
    asio::co_spawn(state_->executor, accept_loop(state_, *acceptor),
                   util::log_failures(
                       "the listener", [] {}, [] {}));
    state_->acceptors.push_back(std::move(acceptor));
  }
  return {};
}

std::vector<tcp::endpoint> Server::local_endpoints() const {
  std::vector<tcp::endpoint> out;
  for (const auto& a : state_->acceptors) {
    boost::system::error_code ec;
    auto ep = a->local_endpoint(ec);
    if (!ec) out.push_back(ep);
  }
  return out;
}

void Server::stop(std::function<void()> on_drained) {
  state_->stopping = true;
  for (auto& a : state_->acceptors) {
    boost::system::error_code ignored;
    a->close(ignored);
  }
  for (auto* socket : state_->idle) {
    boost::system::error_code ignored;
    socket->cancel(ignored);
  }
  if (state_->connections == 0) {
    if (on_drained) on_drained();
  } else {
    state_->on_drained = std::move(on_drained);
  }
}

std::size_t Server::connections() const { return state_->connections; }

}  // namespace awh::serve
