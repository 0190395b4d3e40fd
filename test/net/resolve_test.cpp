#include "net/resolve.hpp"

#include <doctest/doctest.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>
#include <memory>

#include "loop.hpp"

using namespace awh;
using namespace awh::nettest;
namespace asio = boost::asio;

namespace {

const std::string kHost = "hangs.example";

}  // namespace

TEST_CASE("resolve: the injected resolver's answer") {
  asio::io_context io;
  const auto deadline = Clock::now() + 5s;
  auto ok =
      run(io, net::resolve(
                  [](const std::string& host, const std::string& port) -> Result<net::Endpoints> {
                    CHECK(host == "a.example");
                    CHECK(port == "8443");
                    return net::Endpoints{{asio::ip::make_address("::1"), 8443}};
                  },
                  "a.example", "8443", deadline));
  REQUIRE(ok.has_value());
  REQUIRE(ok->size() == 1);
  CHECK(ok->front().port() == 8443);

  auto failed = run(io, net::resolve(
                            [](const std::string&, const std::string&) -> Result<net::Endpoints> {
                              Error e = make_error(errc::network, "Host not found (authoritative)");
                              return e;
                            },
                            "b.example", "443", deadline));
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().cls == errc::network);
  CHECK(failed.error().message == "resolving b.example failed: Host not found (authoritative)");

  auto thrown = run(io, net::resolve(
                            [](const std::string&, const std::string&) -> Result<net::Endpoints> {
                              throw std::runtime_error("resolver bug");
                            },
                            "c.example", "443", deadline));
  REQUIRE_FALSE(thrown.has_value());
  CHECK(thrown.error().cls == errc::internal);
}

TEST_CASE("resolve: getaddrinfo answers IP literals and reports unknown names") {
  auto v4 = net::resolve_with_getaddrinfo("127.0.0.1", "8080");
  REQUIRE(v4.has_value());
  CHECK(v4->front().address().to_string() == "127.0.0.1");
  CHECK(v4->front().port() == 8080);
  // RFC 6761 §6.4: .invalid names never resolve (answered locally or by the root: no hang).
  auto bad = net::resolve_with_getaddrinfo("no-such-host.invalid", "443");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().cls == errc::network);
}

TEST_CASE("resolve: a lookup that never answers ends at the deadline") {
  HangingResolver hanging;
  std::weak_ptr<int> thread_done;
  {
    auto io = std::make_unique<asio::io_context>();
    const auto start = Clock::now();
    auto resolver = hanging.resolver();
    thread_done = hanging.watch();
    auto r = run(*io, net::resolve(std::move(resolver), kHost, "443", start + 200ms));
    const auto took = Clock::now() - start;
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().cls == errc::timeout);
    CHECK(r.error().message == "resolving hangs.example timed out");
    CHECK(took >= 150ms);
    CHECK(took < 5s);
    CHECK_FALSE(thread_done.expired());  // the lookup is still hanging

    SUBCASE("the io_context is destroyed before the lookup finishes") {
      const auto before = Clock::now();
      io.reset();
      CHECK(Clock::now() - before < 1s);
    }
    SUBCASE("the lookup finishes while the io_context still runs") {
      hanging.gate->open();
      REQUIRE(wait_until([&] { return thread_done.expired(); }));
      io->restart();
      CHECK(io->poll() == 0);  // the abandoned answer was dropped, not posted
    }
  }
  hanging.gate->open();
  CHECK(wait_until([&] { return thread_done.expired(); }));
}

TEST_CASE("resolve: an already passed deadline fails at once, without a lookup") {
  asio::io_context io;
  bool called = false;
  auto r = run(io, net::resolve(
                       [&](const std::string&, const std::string&) -> Result<net::Endpoints> {
                         called = true;
                         return net::Endpoints{};
                       },
                       kHost, "443", Clock::now() - 1ms));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().cls == errc::timeout);
  CHECK_FALSE(called);
}

TEST_CASE("resolve: destroying the io_context mid-lookup neither blocks nor crashes") {
  HangingResolver hanging;
  auto resolver = hanging.resolver();
  std::weak_ptr<int> thread_done = hanging.watch();
  bool completed = false;
  auto io = std::make_unique<asio::io_context>();
  asio::co_spawn(*io, net::resolve(std::move(resolver), kHost, "443", Clock::now() + 60s),
                 [&](std::exception_ptr, Result<net::Endpoints>) { completed = true; });
  io->run_for(50ms);
  SUBCASE("stopped first") { io->stop(); }
  SUBCASE("not stopped") {}
  const auto before = Clock::now();
  io.reset();  // with the lookup thread still blocked
  CHECK(Clock::now() - before < 1s);
  CHECK_FALSE(completed);
  hanging.gate->open();
  CHECK(wait_until([&] { return thread_done.expired(); }));
}

TEST_CASE("resolve: cancelling the awaiting coroutine ends a hanging lookup promptly") {
  using namespace asio::experimental::awaitable_operators;
  HangingResolver hanging;
  auto resolver = hanging.resolver();
  std::weak_ptr<int> thread_done = hanging.watch();
  asio::io_context io;
  const auto start = Clock::now();
  auto race = [](net::Resolver resolver) -> asio::awaitable<int> {
    asio::steady_timer timer(co_await asio::this_coro::executor, 100ms);
    // `||` cancels the loser and waits for it to finish: a resolve that ignored cancellation
    // would hold this until its deadline, a minute away.
    auto winner = co_await (net::resolve(std::move(resolver), kHost, "443", Clock::now() + 60s) ||
                            timer.async_wait(asio::use_awaitable));
    co_return static_cast<int>(winner.index());
  };
  CHECK(run(io, race(std::move(resolver))) == 1);
  CHECK(Clock::now() - start < 5s);
  hanging.gate->open();
  CHECK(wait_until([&] { return thread_done.expired(); }));
}
