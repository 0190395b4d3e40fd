// ProfileFile: several engines' profiles of one credentials file, overlapping deliveries
// coalesced into one rename, a failing exchange releasing the others.
#include <doctest/doctest.h>

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/file_batch.hpp"

using namespace awh;
namespace asio = boost::asio;

namespace {

struct TempFile {
  TempFile() {
    char dir[] = "/tmp/awh-batch-test-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    dir_ = dir;
  }
  ~TempFile() { std::filesystem::remove_all(dir_); }
  std::string path() const { return dir_ + "/credentials"; }
  std::string read() const {
    std::ifstream in(path());
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string dir_;
};

creds::Credentials creds_for(const std::string& key) {
  creds::Credentials c;
  c.access_key_id = key;
  c.secret_access_key = "secret-" + key;
  c.session_token = "token-" + key;
  c.expiration = "2030-01-01T00:00:00Z";
  return c;
}

// Runs `sink->deliver_async(c)` as a task; the result lands in `out`.
void deliver(asio::io_context& io, engine::Sink& sink, creds::Credentials c,
             std::optional<Result<void>>& out) {
  asio::co_spawn(
      io,
      [](engine::Sink& s, creds::Credentials c) -> asio::awaitable<Result<void>> {
        co_return co_await s.deliver_async(c);
      }(sink, std::move(c)),
      [&out](std::exception_ptr e, Result<void> r) {
        REQUIRE(!e);
        out = r;
      });
}

void after(asio::io_context& io, std::chrono::milliseconds d, std::function<void()> f) {
  auto timer = std::make_shared<asio::steady_timer>(io, d);
  timer->async_wait([timer, f = std::move(f)](boost::system::error_code) { f(); });
}

}  // namespace

TEST_CASE("deliveries that overlap are written in one rename, keeping the other profiles") {
  TempFile t;
  { std::ofstream(t.path()) << "[other]\nregion = eu-west-1\n"; }
  asio::io_context io;
  engine::ProfileFile file(io.get_executor(), creds::FileTarget{t.path(), "", false, false});
  auto a = file.sink_for("a");
  auto b = file.sink_for("b");
  REQUIRE(a->prepare().has_value());
  a->exchanging(true);
  b->exchanging(true);
  std::optional<Result<void>> ra, rb;
  deliver(io, *a, creds_for("AKIAA"), ra);  // waits: b's exchange is in flight
  after(io, std::chrono::milliseconds(50), [&] {
    CHECK(file.writes() == 0);
    CHECK_FALSE(ra.has_value());
    deliver(io, *b, creds_for("AKIAB"), rb);
  });
  io.run();
  REQUIRE(ra.has_value());
  REQUIRE(rb.has_value());
  CHECK(ra->has_value());
  CHECK(rb->has_value());
  CHECK(file.writes() == 1);
  const auto text = t.read();
  CHECK(text.rfind("[other]\nregion = eu-west-1\n", 0) == 0);
  CHECK(text.find("[a]\naws_access_key_id = AKIAA\n") != std::string::npos);
  CHECK(text.find("[b]\naws_access_key_id = AKIAB\n") != std::string::npos);
}

TEST_CASE("a failed exchange releases the waiting delivery at once") {
  TempFile t;
  asio::io_context io;
  engine::ProfileFile file(io.get_executor(), creds::FileTarget{t.path(), "", false, false});
  auto a = file.sink_for("a");
  auto b = file.sink_for("b");
  a->exchanging(true);
  b->exchanging(true);
  std::optional<Result<void>> ra;
  const auto start = std::chrono::steady_clock::now();
  deliver(io, *a, creds_for("AKIAA"), ra);
  after(io, std::chrono::milliseconds(50), [&] { b->exchanging(false); });
  io.run();
  REQUIRE(ra.has_value());
  CHECK(ra->has_value());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  CHECK(file.writes() == 1);
  CHECK(t.read() ==
        "[a]\naws_access_key_id = AKIAA\naws_secret_access_key = secret-AKIAA\n"
        "aws_session_token = token-AKIAA\n");
}

TEST_CASE("a delivery alone writes at once; a slow peer is waited for at most max_wait") {
  TempFile t;
  asio::io_context io;
  engine::ProfileFile file(io.get_executor(), creds::FileTarget{t.path(), "", false, false},
                           std::chrono::milliseconds(200));
  auto a = file.sink_for("a");
  auto b = file.sink_for("b");
  std::optional<Result<void>> r1, r2;
  deliver(io, *a, creds_for("AKIA1"), r1);  // b is not exchanging: no wait
  io.run();
  REQUIRE(r1.has_value());
  CHECK(file.writes() == 1);

  io.restart();
  b->exchanging(true);  // and never finishes
  const auto start = std::chrono::steady_clock::now();
  deliver(io, *a, creds_for("AKIA2"), r2);
  io.run();
  REQUIRE(r2.has_value());
  CHECK(r2->has_value());
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= std::chrono::milliseconds(190));
  CHECK(waited < std::chrono::seconds(2));
  CHECK(file.writes() == 2);
  CHECK(t.read().find("AKIA2") != std::string::npos);
}

TEST_CASE("after stop() nothing is written") {
  TempFile t;
  asio::io_context io;
  engine::ProfileFile file(io.get_executor(), creds::FileTarget{t.path(), "", false, false});
  auto a = file.sink_for("a");
  auto b = file.sink_for("b");
  b->exchanging(true);
  std::optional<Result<void>> ra;
  deliver(io, *a, creds_for("AKIAA"), ra);
  after(io, std::chrono::milliseconds(20), [&] { file.stop(); });
  io.run();
  REQUIRE(ra.has_value());
  CHECK_FALSE(ra->has_value());
  CHECK(file.writes() == 0);
  CHECK_FALSE(std::filesystem::exists(t.path()));
}
