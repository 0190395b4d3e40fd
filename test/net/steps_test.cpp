#include "net/steps.hpp"

#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cerrno>
#include <memory>
#include <string>

#include "loop.hpp"
#include "net/http_client.hpp"

using namespace awh;
using namespace awh::nettest;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kCap = 1 << 20;

// What the loopback peer does after it has read the request head and written its reply.
enum class Then { close, hold };

// A one-connection HTTP peer on 127.0.0.1 (port 0: the kernel picks), run as a coroutine on the
// test's io_context next to the client. It answers `reply` verbatim, then closes (a peer that
// ends early) or holds the connection open until the client gives up (a slow peer).
class LoopbackPeer {
 public:
  LoopbackPeer(asio::io_context& io, std::string reply, Then then)
      : state_(std::make_shared<State>()) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    endpoint_ = acceptor.local_endpoint();
    state_->reply = std::move(reply);
    asio::co_spawn(io, serve(std::move(acceptor), state_, then),
                   [state = state_](std::exception_ptr e) { state->failure = e; });
  }
  net::Endpoints endpoints() const { return {endpoint_}; }
  // The request head the peer read; call after the exchange.
  const std::string& request() const { return state_->request; }
  // Rethrows what went wrong in the peer itself (not what it did on purpose).
  void check() const {
    if (state_->failure) std::rethrow_exception(state_->failure);
  }

 private:
  struct State {
    std::string reply;
    std::string request;
    std::exception_ptr failure;
  };

  static asio::awaitable<void> serve(tcp::acceptor acceptor, std::shared_ptr<State> state,
                                     Then then) {
    auto socket = co_await acceptor.async_accept(asio::use_awaitable);
    co_await asio::async_read_until(socket, asio::dynamic_buffer(state->request), "\r\n\r\n",
                                    asio::use_awaitable);
    co_await asio::async_write(socket, asio::buffer(state->reply), asio::use_awaitable);
    if (then == Then::hold) {
      char byte;
      // Until the client closes: its deadline, not ours, ends the test.
      for (;;) {
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(&byte, 1),
                                                       asio::as_tuple(asio::use_awaitable));
        if (ec) break;
      }
    }
    boost::system::error_code ignored;  // the peer is done either way
    socket.shutdown(tcp::socket::shutdown_both, ignored);
  }

  std::shared_ptr<State> state_;
  tcp::endpoint endpoint_;
};

net::HttpRequest get_request() {
  return net::HttpRequest{"GET", "/sessions?a=b", {{"X-Test", "yes"}}, ""};
}

// Connects to `peer` and runs the exchange, each with `deadline`.
asio::awaitable<Result<net::HttpResponse>> connect_and_exchange(net::Endpoints endpoints,
                                                                std::size_t max_body,
                                                                Clock::time_point deadline) {
  auto stream = co_await net::connect(std::move(endpoints), deadline);
  if (!stream) co_return stream.error();
  co_return co_await net::exchange(std::move(*stream), get_request(), max_body, deadline);
}

Result<net::HttpResponse> exchange_with(std::string reply, Then then = Then::close,
                                        std::size_t max_body = kCap,
                                        std::chrono::milliseconds budget = 5s) {
  asio::io_context io;
  LoopbackPeer peer(io, std::move(reply), then);
  auto result = run(io, connect_and_exchange(peer.endpoints(), max_body, Clock::now() + budget));
  peer.check();
  return result;
}

}  // namespace

TEST_CASE("exchange: a Content-Length response, and the request as sent") {
  asio::io_context io;
  LoopbackPeer peer(io,
                    "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
                    "hello",
                    Then::close);
  auto r = run(io, connect_and_exchange(peer.endpoints(), kCap, Clock::now() + 5s));
  peer.check();
  REQUIRE(r.has_value());
  CHECK(r->status == 201);
  CHECK(r->header("content-type") == "text/plain");
  CHECK(r->body == "hello");
  CHECK(peer.request().rfind("GET /sessions?a=b HTTP/1.1\r\n", 0) == 0);
  CHECK(peer.request().find("X-Test: yes\r\n") != std::string::npos);
  CHECK(peer.request().find("Connection: close\r\n") != std::string::npos);
}

TEST_CASE("exchange: a chunked response") {
  auto r = exchange_with(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
  REQUIRE(r.has_value());
  CHECK(r->status == 200);
  CHECK(r->body == "hello world");
}

TEST_CASE("exchange: a body over the cap is a protocol error") {
  SUBCASE("declared by Content-Length") {
    auto r = exchange_with("HTTP/1.1 200 OK\r\nContent-Length: 32\r\n\r\n" + std::string(32, 'x'),
                           Then::close, 16);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().cls == errc::protocol);
    CHECK(r.error().message == "response body exceeds 16 bytes");
  }
  SUBCASE("chunked") {
    auto r = exchange_with("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n" +
                               std::string(16, 'x') + "\r\n10\r\n" + std::string(16, 'y') +
                               "\r\n0\r\n\r\n",
                           Then::close, 16);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().cls == errc::protocol);
    CHECK(r.error().message.find("response body exceeds 16 bytes") != std::string::npos);
  }
}

TEST_CASE("exchange: a peer that closes early is a network error") {
  std::string reply;
  SUBCASE("before any byte") { reply = ""; }
  SUBCASE("mid-headers") { reply = "HTTP/1.1 200 OK\r\nContent-Len"; }
  SUBCASE("mid-body") { reply = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"; }
  SUBCASE("mid-chunk") { reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhe"; }
  CAPTURE(reply);
  auto r = exchange_with(reply);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().cls == errc::network);
  CHECK(r.error().message.rfind("reading the response failed: ", 0) == 0);
  CHECK(r.error().retryable());
}

TEST_CASE("exchange: a malformed response is a protocol error") {
  std::string reply;
  SUBCASE("not HTTP") { reply = "SSH-2.0-OpenSSH_9.2\r\n\r\n"; }
  SUBCASE("bad status code") { reply = "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"; }
  SUBCASE("bad chunk size") {
    reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
  }
  SUBCASE("bad header line") { reply = "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n"; }
  CAPTURE(reply);
  auto r = exchange_with(reply);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().cls == errc::protocol);
  CHECK(r.error().message.rfind("malformed HTTP response: ", 0) == 0);
}

TEST_CASE("exchange: a slow peer meets the step deadline") {
  const auto start = Clock::now();
  auto r =
      exchange_with("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel", Then::hold, kCap, 300ms);
  const auto took = Clock::now() - start;
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().cls == errc::timeout);
  CHECK(r.error().message == "reading the response timed out");
  CHECK(took >= 250ms);
  CHECK(took < 5s);
}

TEST_CASE("connect: a refused connection keeps its errno") {
  asio::io_context io;
  tcp::endpoint closed;
  {
    // Bound and closed again: nothing listens there now.
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed = probe.local_endpoint();
  }
  auto r = run(io, connect_and_exchange({closed}, kCap, Clock::now() + 5s));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().cls == errc::network);
  CHECK(r.error().sys_errno == ECONNREFUSED);
  CHECK(r.error().message.rfind("connecting failed: ", 0) == 0);
}

TEST_CASE("HttpClient: the steps composed") {
  asio::io_context io;
  LoopbackPeer peer(io, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Then::close);
  auto url = net::parse_url("http://127.0.0.1:" + std::to_string(peer.endpoints().front().port()));
  REQUIRE(url.has_value());
  auto client = net::HttpClient::create(net::ClientOptions{});
  REQUIRE(client.has_value());
  auto r = run(io, (*client)->send(*url, get_request(), Clock::now() + 5s));
  peer.check();
  REQUIRE(r.has_value());
  CHECK(r->status == 200);
  CHECK(r->body == "ok");
}

TEST_CASE("HttpClient: a lookup that hangs ends at the step timeout, the error names the URL") {
  HangingResolver hanging;
  net::ClientOptions options;
  options.step_timeout = 200ms;
  options.resolver = hanging.resolver();
  auto thread_done = hanging.watch();
  auto url = net::parse_url("http://localhost:8080");
  REQUIRE(url.has_value());
  {
    auto client = net::HttpClient::create(std::move(options));
    REQUIRE(client.has_value());
    asio::io_context io;
    const auto start = Clock::now();
    auto r = run(io, (*client)->send(*url, get_request(), start + 60s));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().cls == errc::timeout);
    CHECK(r.error().message == "http://localhost:8080: resolving localhost timed out");
    CHECK(Clock::now() - start < 5s);
  }
  hanging.gate->open();
  CHECK(wait_until([&] { return thread_done.expired(); }));
}

TEST_CASE("interleave_families: the families alternate, the first answer's family first") {
  const auto ep = [](const char* ip) { return tcp::endpoint(asio::ip::make_address(ip), 443); };
  const net::Endpoints in{ep("::1"), ep("::2"), ep("::3"), ep("10.0.0.1"), ep("10.0.0.2")};
  const net::Endpoints want{ep("::1"), ep("10.0.0.1"), ep("::2"), ep("10.0.0.2"), ep("::3")};
  CHECK(net::interleave_families(in) == want);
  const net::Endpoints v4_first{ep("10.0.0.1"), ep("::1")};
  CHECK(net::interleave_families(v4_first) == v4_first);
  CHECK(net::interleave_families({}).empty());
}

TEST_CASE("connect: an address that swallows SYNs costs at most the per-address bound") {
  asio::io_context io;
  // A listener with a full accept queue: the kernel drops further SYNs, so a connect there hangs
  // as one to a black-holed route does.
  tcp::acceptor full(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  full.listen(0);
  tcp::socket filler(io);
  filler.connect(full.local_endpoint());
  LoopbackPeer peer(io, "HTTP/1.1 204 No Content\r\n\r\n", Then::close);
  const net::Endpoints endpoints{full.local_endpoint(), peer.endpoints().front()};

  const auto start = Clock::now();
  auto r = run(io, [&]() -> asio::awaitable<Result<net::HttpResponse>> {
    auto stream = co_await net::connect(endpoints, Clock::now() + 10s, 300ms);
    if (!stream) co_return stream.error();
    CHECK(stream->remote_endpoint() == peer.endpoints().front());
    co_return co_await net::exchange(std::move(*stream), get_request(), kCap, Clock::now() + 5s);
  }());
  peer.check();
  REQUIRE(r.has_value());
  CHECK(r->status == 204);
  const auto took = Clock::now() - start;
  CHECK(took >= 250ms);
  CHECK(took < 3s);  // not the 10 s deadline

  // Only the swallowing address: the last attempt runs to the deadline, and says so.
  auto alone = run(io, connect_and_exchange({full.local_endpoint()}, kCap, Clock::now() + 500ms));
  REQUIRE_FALSE(alone.has_value());
  CHECK(alone.error().cls == errc::timeout);
  CHECK(alone.error().message == "connecting timed out");
}

namespace {

// The tunnel step against a scripted proxy answering `reply`; the CONNECT request it read.
std::pair<Result<int>, std::string> tunnel_with(std::string reply, const std::string& proxy_url) {
  asio::io_context io;
  LoopbackPeer peer(io, std::move(reply), Then::hold);
  auto proxy = net::parse_proxy_url(proxy_url, "--proxy");
  REQUIRE(proxy.has_value());
  auto r = run(io, [&]() -> asio::awaitable<Result<int>> {
    auto stream = co_await net::connect(peer.endpoints(), Clock::now() + 5s);
    if (!stream) co_return stream.error();
    auto tunnel = co_await net::tunnel(std::move(*stream), *proxy, "sts.us-east-1.amazonaws.com",
                                       "443", Clock::now() + 2s);
    if (!tunnel) co_return tunnel.error();
    co_return 1;  // not bool: an Error converts to bool
  }());
  peer.check();
  return {r, peer.request()};
}

}  // namespace

TEST_CASE("tunnel: CONNECT with Basic authentication, a 2xx opens it") {
  auto [r, request] = tunnel_with("HTTP/1.1 200 Connection established\r\n\r\n",
                                  "http://user:pa%3Ass@127.0.0.1:3128");
  CHECK(r.has_value());
  CHECK(request ==
        "CONNECT sts.us-east-1.amazonaws.com:443 HTTP/1.1\r\n"
        "Host: sts.us-east-1.amazonaws.com:443\r\n"
        "Proxy-Authorization: Basic dXNlcjpwYTpzcw==\r\n\r\n");  // base64("user:pa:ss")
}

TEST_CASE("tunnel: refusals are network errors with the status; bad answers are protocol errors") {
  auto [denied, req1] = tunnel_with(
      "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n", "127.0.0.1:3128");
  REQUIRE_FALSE(denied.has_value());
  CHECK(denied.error().cls == errc::network);
  CHECK(denied.error().http_status == 407);
  CHECK(denied.error().message ==
        "the proxy refused the tunnel to sts.us-east-1.amazonaws.com:443: HTTP 407 Proxy "
        "Authentication Required (the proxy wants a user name and password in the proxy URL)");
  CHECK(denied.error().retryable());

  auto [bad_gateway, req2] =
      tunnel_with("HTTP/1.1 502 Bad Gateway\r\n\r\n", "http://127.0.0.1:3128");
  REQUIRE_FALSE(bad_gateway.has_value());
  CHECK(bad_gateway.error().http_status == 502);

  auto [extra, req3] = tunnel_with("HTTP/1.1 200 OK\r\n\r\nsurprise", "http://127.0.0.1:3128");
  REQUIRE_FALSE(extra.has_value());
  CHECK(extra.error().cls == errc::protocol);

  auto [garbage, req4] = tunnel_with("SSH-2.0-OpenSSH\r\n\r\n", "http://127.0.0.1:3128");
  REQUIRE_FALSE(garbage.has_value());
  CHECK(garbage.error().cls == errc::protocol);
  CHECK(garbage.error().message.rfind("malformed answer from the proxy", 0) == 0);

  auto [silent, req5] = tunnel_with("", "http://127.0.0.1:3128");  // holds, never answers
  REQUIRE_FALSE(silent.has_value());
  CHECK(silent.error().cls == errc::timeout);
  CHECK(silent.error().message == "opening the tunnel timed out");
}
