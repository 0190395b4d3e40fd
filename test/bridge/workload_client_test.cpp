// The gRPC bridge of spiffe::WorkloadClient (gRPC's callback API posting into one io_context)
// against the in-process fake Workload API: messages, the end of a stream, cancellation,
// destruction with calls open, coalesced pushes, and FetchJWTSVID.
//
// The io_context runs on the test thread, one handler at a time (run_one_for), and every wait
// is bounded: a bridge that loses a wake-up fails a CHECK instead of hanging the suite.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/client_callback.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "fake_workload_api.hpp"
#include "harness.hpp"
#include "spiffe/address.hpp"
#include "spiffe/grpc_tuning.hpp"
#include "spiffe/workload_client.hpp"
#include "test_pki.hpp"
#include "workload.grpc.pb.h"

// For doctest's messages: a failed CHECK on a Result shows the error. (boost::system::result's
// own operator<< needs one for the value type too.)
template <class T>
struct doctest::StringMaker<boost::system::result<T, awh::Error>> {
  static doctest::String convert(const boost::system::result<T, awh::Error>& r) {
    if (r) return "a value";
    std::string text = std::string(awh::class_name(r.error().cls)) + ": " + r.error().message;
    if (r.error().grpc_status)
      text += " (gRPC status " + std::to_string(*r.error().grpc_status) + ")";
    return text.c_str();
  }
};

namespace awh::spiffe {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;
using testpeers::FakeJwtSvid;
using testpeers::FakeSvid;
using testpeers::FakeWorkloadApi;
using testpeers::KeyKind;
using X509Result = Result<std::vector<RawX509Svid>>;
using JwtResult = Result<std::vector<RawJwtSvid>>;

// The helper's gRPC changes go in before the in-process fake agent starts gRPC, as they do in
// the helper (spiffe/grpc_tuning.hpp).
const bool kGrpcPrepared = (prepare_grpc(), true);

// gRPC status codes, as Error::grpc_status carries them.
constexpr int kInvalidArgument = 3;
constexpr int kDeadlineExceeded = 4;
constexpr int kPermissionDenied = 7;
constexpr int kUnavailable = 14;

// A coroutine started on the fixture's io_context; `result` is set when it completes.
template <class T>
struct Task {
  std::optional<T> result;
  std::exception_ptr exception;
  bool done = false;
};

struct Fixture {
  itest::TempDir dir;
  testpeers::TestPki pki;
  // Declared before the io_context: gRPC stays up while the io_context destroys what is left in
  // its queue (the fake is shut down explicitly where a test needs that).
  FakeWorkloadApi api{dir.file("agent.sock")};
  asio::io_context io;
  // Keeps run_one_for() waiting for posts from gRPC's threads when nothing else is queued.
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  // Destroyed first: the contract is client before io_context.
  std::unique_ptr<WorkloadClient> client = make_client(api.socket_path());

  ~Fixture() {
    // SPIFFE Workload Endpoint §6.2: every call the client made carried the security header.
    CHECK(api.rejected_without_header() == 0);
  }

  std::unique_ptr<WorkloadClient> make_client(const std::string& socket_path) {
    auto target = workload_api_target("unix://" + socket_path, "test");
    REQUIRE(target);
    return std::make_unique<WorkloadClient>(io.get_executor(), *target);
  }

  FakeSvid svid(const std::string& id, const std::string& hint, KeyKind kind = KeyKind::p256,
                bool via_intermediate = true) {
    const testpeers::IssuedSvid issued = pki.issue(id, kind, via_intermediate);
    return FakeSvid{issued.spiffe_id, issued.chain_der, issued.key_pkcs8_der, pki.root_der(), hint};
  }

  // Starts `awaitable` on the io_context; the task is completed by run_until().
  template <class T>
  std::shared_ptr<Task<T>> spawn(asio::awaitable<T> awaitable) {
    auto task = std::make_shared<Task<T>>();
    asio::co_spawn(io, std::move(awaitable), [task](std::exception_ptr e, T value) {
      task->done = true;
      task->exception = e;
      if (!e) task->result = std::move(value);
    });
    return task;
  }

  // Runs handlers until `condition` holds or `limit` passes; returns whether it holds.
  bool run_until(const std::function<bool()>& condition, Clock::duration limit = 10s) {
    const auto deadline = Clock::now() + limit;
    while (!condition()) {
      const auto now = Clock::now();
      if (now >= deadline) return false;
      io.run_one_for(deadline - now);
    }
    return true;
  }

  // Runs `awaitable` to completion (bounded); fails the test if it does not complete.
  template <class T>
  T run(asio::awaitable<T> awaitable, Clock::duration limit = 10s) {
    auto task = spawn(std::move(awaitable));
    REQUIRE_MESSAGE(run_until([&] { return task->done; }, limit), "the operation did not complete");
    if (task->exception) std::rethrow_exception(task->exception);
    return std::move(*task->result);
  }
};

void check_same(const std::vector<RawX509Svid>& got, const std::vector<FakeSvid>& sent) {
  REQUIRE(got.size() == sent.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i].spiffe_id == sent[i].spiffe_id);
    CHECK(got[i].cert_chain_der == sent[i].chain_der);
    CHECK(got[i].key_der.str() == sent[i].key_der);
    CHECK(got[i].bundle_der == sent[i].bundle_der);
    CHECK(got[i].hint == sent[i].hint);
  }
}

void check_error(const X509Result& r, errc cls, std::optional<int> grpc_status) {
  REQUIRE_FALSE(r);
  CAPTURE(r.error().message);
  CHECK(r.error().cls == cls);
  CHECK(r.error().grpc_status == grpc_status);
}

}  // namespace

TEST_CASE("stream: next() returns the full state as sent, then each new state") {
  Fixture f;
  const std::vector<FakeSvid> first{f.svid("spiffe://example.org/a", "internal", KeyKind::rsa2048),
                                    f.svid("spiffe://example.org/b", "external", KeyKind::p384,
                                           /*via_intermediate=*/false)};
  f.api.set_svids(first);

  auto stream = f.client->open_x509_stream();
  const X509Result r1 = f.run(stream->next());
  REQUIRE(r1);
  check_same(*r1, first);
  CHECK(f.api.open_streams() == 1);

  const std::vector<FakeSvid> rotated{f.svid("spiffe://example.org/a", "internal")};
  f.api.set_svids(rotated);
  const X509Result r2 = f.run(stream->next());
  REQUIRE(r2);
  check_same(*r2, rotated);

  // A second stream on the same client gets the current state at once.
  auto other = f.client->open_x509_stream();
  const X509Result r3 = f.run(other->next());
  REQUIRE(r3);
  check_same(*r3, rotated);
  CHECK(f.api.open_streams() == 2);
}

TEST_CASE("stream: the end of a stream is an error with its class and gRPC status") {
  Fixture f;
  f.api.set_svids({f.svid("spiffe://example.org/a", "")});
  auto stream = f.client->open_x509_stream();
  REQUIRE(f.run(stream->next()));

  SUBCASE("UNAVAILABLE (an agent restart) is retryable") {
    f.api.end_streams(grpc::StatusCode::UNAVAILABLE, "agent restarting");
    const X509Result r = f.run(stream->next());
    check_error(r, errc::workload_unavailable, kUnavailable);
    CHECK(r.error().retryable());
    CHECK(r.error().message.find("agent restarting") != std::string::npos);
    // The stream is done: it keeps answering the same error.
    check_error(f.run(stream->next()), errc::workload_unavailable, kUnavailable);
  }
  SUBCASE("INVALID_ARGUMENT is rejected, not retryable") {
    f.api.end_streams(grpc::StatusCode::INVALID_ARGUMENT, "bad request");
    const X509Result r = f.run(stream->next());
    check_error(r, errc::workload_rejected, kInvalidArgument);
    CHECK_FALSE(r.error().retryable());
  }
  SUBCASE("RESOURCE_EXHAUSTED (a message over the size limit) is rejected, not retryable") {
    f.api.end_streams(grpc::StatusCode::RESOURCE_EXHAUSTED, "Received message larger than max");
    const X509Result r = f.run(stream->next());
    check_error(r, errc::workload_rejected, static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
    CHECK_FALSE(r.error().retryable());
    CHECK(r.error().message.find("RESOURCE_EXHAUSTED") != std::string::npos);
  }
  SUBCASE("losing the identity (PERMISSION_DENIED) is retryable") {
    f.api.set_no_identity(true);
    const X509Result r = f.run(stream->next());
    check_error(r, errc::workload_unavailable, kPermissionDenied);
    CHECK(r.error().retryable());
  }
  SUBCASE("a server shutdown") {
    f.api.shutdown();
    const X509Result r = f.run(stream->next());
    REQUIRE_FALSE(r);
    CHECK(r.error().cls == errc::workload_unavailable);
    CHECK(r.error().grpc_status.has_value());
    CHECK(r.error().retryable());
    // A new stream after the shutdown fails too, and promptly.
    auto again = f.client->open_x509_stream();
    const X509Result r2 = f.run(again->next());
    REQUIRE_FALSE(r2);
    CHECK(r2.error().retryable());
  }
  CHECK(f.api.wait_for_open_streams(0, 5s));
}

TEST_CASE("fetch_x509_once: no identity yet, and a missing socket, end by the deadline") {
  Fixture f;
  SUBCASE("no SVIDs yet: PERMISSION_DENIED") {
    const X509Result r = f.run(f.client->fetch_x509_once(Clock::now() + 10s));
    check_error(r, errc::workload_unavailable, kPermissionDenied);
  }
  SUBCASE("the first message") {
    const std::vector<FakeSvid> sent{f.svid("spiffe://example.org/a", "h")};
    f.api.set_svids(sent);
    const X509Result r = f.run(f.client->fetch_x509_once(Clock::now() + 10s));
    REQUIRE(r);
    check_same(*r, sent);
    // One attempt: the call is cancelled once the message is in.
    CHECK(f.api.wait_for_open_streams(0, 5s));
  }
  SUBCASE("nothing listens on the socket") {
    auto missing = f.make_client(f.dir.file("missing.sock"));
    const auto start = Clock::now();
    const auto deadline = start + 3s;
    const X509Result r = f.run(missing->fetch_x509_once(deadline), 20s);
    const auto elapsed = Clock::now() - start;
    REQUIRE_FALSE(r);
    CAPTURE(r.error().message);
    CHECK(r.error().retryable());
    // gRPC fails fast (UNAVAILABLE) or the deadline ends the wait (timeout); either way the
    // answer comes by the deadline, give or take scheduling.
    CHECK((r.error().cls == errc::workload_unavailable || r.error().cls == errc::timeout));
    if (r.error().cls == errc::workload_unavailable) CHECK(r.error().grpc_status == kUnavailable);
    CHECK(elapsed < 3s + 2s);
  }
}

TEST_CASE("cancellation: cancel() ends a pending next(), and racing a timer cancels cleanly") {
  Fixture f;
  f.api.set_svids({f.svid("spiffe://example.org/a", "v1")});
  auto stream = f.client->open_x509_stream();
  REQUIRE(f.run(stream->next()));

  SUBCASE("cancel() with next() pending") {
    auto pending = f.spawn(stream->next());
    f.io.poll();  // the coroutine is now waiting for the reactor
    CHECK_FALSE(pending->done);
    stream->cancel();
    REQUIRE(f.run_until([&] { return pending->done; }, 5s));
    REQUIRE_FALSE(pending->exception);
    REQUIRE(pending->result);
    REQUIRE_FALSE(*pending->result);
    CAPTURE(pending->result->error().message);
    CHECK(pending->result->error().cls == errc::workload_unavailable);
    CHECK(f.api.wait_for_open_streams(0, 5s));

    stream->cancel();  // twice: harmless
    REQUIRE_FALSE(f.run(stream->next()));
  }
  SUBCASE("cancel() twice before reading, then next() ends") {
    stream->cancel();
    stream->cancel();
    REQUIRE_FALSE(f.run(stream->next()));
    CHECK(f.api.wait_for_open_streams(0, 5s));
  }
  SUBCASE("next() || timer: the timer wins, the stream stays usable") {
    auto race = [](X509SvidStream& s, Clock::duration d) -> asio::awaitable<int> {
      asio::steady_timer timer(co_await asio::this_coro::executor, d);
      auto raced = co_await (s.next() || timer.async_wait(asio::use_awaitable));
      co_return static_cast<int>(raced.index());
    };
    for (int i = 0; i < 3; ++i) CHECK(f.run(race(*stream, 50ms)) == 1);
    CHECK(f.api.open_streams() == 1);

    // The cancelled reads left nothing behind: the next message reaches the next read.
    const std::vector<FakeSvid> rotated{f.svid("spiffe://example.org/a", "v2")};
    f.api.set_svids(rotated);
    const X509Result r = f.run(stream->next());
    REQUIRE(r);
    check_same(*r, rotated);

    // A message arriving before the timer wins the race.
    f.api.set_svids({f.svid("spiffe://example.org/a", "v3")});
    CHECK(f.run(race(*stream, 10s)) == 0);
  }
}

TEST_CASE("a client destroyed with a stream and a FetchJWTSVID open returns promptly") {
  Fixture f;
  f.api.set_svids({f.svid("spiffe://example.org/a", "")});
  f.api.set_jwt_svids({FakeJwtSvid{"spiffe://example.org/a", "token-a", ""}});
  f.api.hold_jwt_calls(true);

  auto stream = f.client->open_x509_stream();
  REQUIRE(f.run(stream->next()));
  // A JWT call the agent does not answer, with a deadline far away.
  auto jwt =
      f.spawn(f.client->fetch_jwt_once("sts.amazonaws.com", std::nullopt, Clock::now() + 60s));
  f.io.poll();
  REQUIRE(f.api.wait_for_held_jwt_calls(1, 5s));
  CHECK(f.api.open_streams() == 1);

  const auto start = Clock::now();
  SUBCASE("the stream first, then the client") {
    stream.reset();
    f.client.reset();
  }
  SUBCASE("the client first, then the stream") {
    f.client.reset();
    CHECK(Clock::now() - start < 5s);
    stream.reset();
  }
  CHECK(Clock::now() - start < 5s);
  // The client cancelled both calls on its way out.
  CHECK(f.api.wait_for_open_streams(0, 5s));
  CHECK(f.api.wait_for_held_jwt_calls(0, 5s));
  // Whatever was posted before the client closed runs against expired inboxes.
  f.io.poll();
  // The JWT wait is left suspended (nothing posts after the client is gone); destroying the
  // io_context (the fixture does) frees it.
  CHECK_FALSE(jwt->done);
}

TEST_CASE("many rapid pushes: never an older state after a newer one, and the last one arrives") {
  Fixture f;
  constexpr int kPushes = 300;
  const FakeSvid base = f.svid("spiffe://example.org/a", "");
  std::vector<std::vector<FakeSvid>> states;
  for (int i = 0; i < kPushes; ++i) {
    FakeSvid s = base;
    s.hint = std::to_string(i);
    states.push_back({s});
  }
  f.api.set_svids(states[0]);
  auto stream = f.client->open_x509_stream();
  REQUIRE(f.run(stream->next()));

  auto read_all = [](X509SvidStream& s, int last) -> asio::awaitable<std::vector<int>> {
    std::vector<int> seen;
    while (seen.empty() || seen.back() != last) {
      X509Result r = co_await s.next();
      if (!r || r->size() != 1) co_return seen;  // the checks below then fail
      seen.push_back(std::stoi(r->front().hint));
    }
    co_return seen;
  };
  auto reader = f.spawn(read_all(*stream, kPushes - 1));
  std::thread pusher([&] {
    for (int i = 1; i < kPushes; ++i) f.api.set_svids(states[static_cast<std::size_t>(i)]);
  });
  const bool finished = f.run_until([&] { return reader->done; }, 30s);
  pusher.join();
  REQUIRE(finished);
  REQUIRE_FALSE(reader->exception);
  const std::vector<int>& seen = *reader->result;
  MESSAGE(seen.size(), " of ", kPushes - 1, " states seen");
  REQUIRE_FALSE(seen.empty());
  CHECK(seen.back() == kPushes - 1);
  for (std::size_t i = 1; i < seen.size(); ++i) {
    CAPTURE(i);
    CHECK(seen[i - 1] < seen[i]);
  }
}

TEST_CASE("fetch_jwt_once: the JWT-SVIDs, what it sends, and its errors") {
  Fixture f;
  f.api.set_jwt_svids({FakeJwtSvid{"spiffe://example.org/a", "token-a", "ha"},
                       FakeJwtSvid{"spiffe://example.org/b", "token-b", "hb"}});
  const auto deadline = [] { return Clock::now() + 10s; };

  SUBCASE("every JWT-SVID for the audience") {
    const JwtResult r =
        f.run(f.client->fetch_jwt_once("sts.amazonaws.com", std::nullopt, deadline()));
    REQUIRE(r);
    REQUIRE(r->size() == 2);
    CHECK((*r)[0].spiffe_id == "spiffe://example.org/a");
    CHECK((*r)[0].token.str() == "token-a");
    CHECK((*r)[0].hint == "ha");
    CHECK((*r)[1].spiffe_id == "spiffe://example.org/b");
    CHECK((*r)[1].token.str() == "token-b");
    CHECK(f.api.last_jwt_audiences() == std::vector<std::string>{"sts.amazonaws.com"});
    CHECK(f.api.last_jwt_spiffe_id().empty());
  }
  SUBCASE("naming a SPIFFE ID") {
    const JwtResult r =
        f.run(f.client->fetch_jwt_once("aud", std::string("spiffe://example.org/b"), deadline()));
    REQUIRE(r);
    REQUIRE(r->size() == 1);
    CHECK((*r)[0].token.str() == "token-b");
    CHECK(f.api.last_jwt_audiences() == std::vector<std::string>{"aud"});
    CHECK(f.api.last_jwt_spiffe_id() == "spiffe://example.org/b");
  }
  SUBCASE("PERMISSION_DENIED (no identity yet) is workload_unavailable") {
    f.api.set_no_identity(true);
    const JwtResult r = f.run(f.client->fetch_jwt_once("aud", std::nullopt, deadline()));
    REQUIRE_FALSE(r);
    CHECK(r.error().cls == errc::workload_unavailable);
    CHECK(r.error().grpc_status == kPermissionDenied);
    CHECK(r.error().retryable());
  }
  SUBCASE("INVALID_ARGUMENT is workload_rejected") {
    f.api.fail_next(grpc::StatusCode::INVALID_ARGUMENT, 1, "bad audience");
    const JwtResult r = f.run(f.client->fetch_jwt_once("aud", std::nullopt, deadline()));
    REQUIRE_FALSE(r);
    CHECK(r.error().cls == errc::workload_rejected);
    CHECK(r.error().grpc_status == kInvalidArgument);
    CHECK_FALSE(r.error().retryable());
  }
  SUBCASE("a slow answer arrives; a slower one ends at the deadline") {
    f.api.hold_jwt_calls(true);
    auto slow = f.spawn(f.client->fetch_jwt_once("aud", std::nullopt, deadline()));
    f.io.poll();
    REQUIRE(f.api.wait_for_held_jwt_calls(1, 5s));
    f.api.hold_jwt_calls(false);
    REQUIRE(f.run_until([&] { return slow->done; }));
    REQUIRE(slow->result);
    REQUIRE(*slow->result);
    CHECK((*slow->result)->size() == 2);

    f.api.hold_jwt_calls(true);
    const JwtResult r =
        f.run(f.client->fetch_jwt_once("aud", std::nullopt, Clock::now() + 300ms), 10s);
    REQUIRE_FALSE(r);
    CHECK(r.error().cls == errc::timeout);
    CHECK(r.error().grpc_status == kDeadlineExceeded);
    CHECK(f.api.wait_for_held_jwt_calls(0, 5s));
  }
  CHECK(f.api.calls() >= 1);
}

}  // namespace awh::spiffe

namespace awh::spiffe {
namespace {

// A TCP listener on 127.0.0.1 that accepts and closes every connection, counting them.
class CountingListener {
 public:
  CountingListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) == 1) {
          const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
          if (c >= 0) {
            ++accepted_;
            ::close(c);
          }
        }
      }
    });
  }
  ~CountingListener() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

}  // namespace

TEST_CASE("the Workload API is never proxied, and dns: targets are not resolved") {
  // Stock gRPC sends an ipv4: target through the proxy named by grpc_proxy/https_proxy/
  // http_proxy (HTTP CONNECT, src/core/ext/filters/client_channel/http_proxy.cc). The local
  // Workload API must be dialled directly, whatever the environment says.
  Fixture f;
  CountingListener agent;
  CountingListener proxy;
  const std::string proxy_url = "http://127.0.0.1:" + std::to_string(proxy.port());
  ScopedEnv grpc_proxy("grpc_proxy", proxy_url);
  ScopedEnv https_proxy("https_proxy", proxy_url);
  ScopedEnv http_proxy("http_proxy", proxy_url);
  const std::string port = std::to_string(agent.port());
  {
    auto target = workload_api_target("tcp://127.0.0.1:" + port, "test");
    REQUIRE(target);
    WorkloadClient direct(f.io.get_executor(), *target);
    const X509Result r = f.run(direct.fetch_x509_once(Clock::now() + 1500ms), 20s);
    CHECK_FALSE(r);  // the listener speaks no gRPC
  }
  CHECK(agent.accepted() >= 1);
  CHECK(proxy.accepted() == 0);
  if (grpc_tuned()) {
    // With the client-only configuration there is no DNS resolver: a dns: target fails and
    // connects nowhere.
    const int before = agent.accepted();
    {
      WorkloadClient by_dns(f.io.get_executor(), "dns:///127.0.0.1:" + port);
      const X509Result r = f.run(by_dns.fetch_x509_once(Clock::now() + 1500ms), 20s);
      CHECK_FALSE(r);
    }
    CHECK(agent.accepted() == before);
    CHECK(proxy.accepted() == 0);
  }
}

}  // namespace awh::spiffe

namespace awh::spiffe {
namespace {

// Reads one FetchX509SVID stream and records how it ended.
class StreamWatcher final : public grpc::ClientReadReactor<X509SVIDResponse> {
 public:
  void start(SpiffeWorkloadAPI::Stub& stub) {
    context_.AddMetadata("workload.spiffe.io", "true");
    stub.async()->FetchX509SVID(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (ok) StartRead(&response_);
  }
  void OnDone(const grpc::Status& status) override {
    std::lock_guard lock(mutex_);
    status_ = status;
    done_.notify_all();
  }
  std::optional<grpc::Status> wait(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    done_.wait_for(lock, limit, [&] { return status_.has_value(); });
    return status_;
  }
  void cancel() { context_.TryCancel(); }

 private:
  grpc::ClientContext context_;
  X509SVIDRequest request_;
  X509SVIDResponse response_;
  std::mutex mutex_;
  std::condition_variable done_;
  std::optional<grpc::Status> status_;
};

}  // namespace

TEST_CASE("keepalive pings fire on the helper's channel") {
  // A channel that pings every 100 ms while a stream is open: gRPC's server allows one ping per
  // 5 minutes without data and, after two strikes, ends the connection with GOAWAY
  // ENHANCE_YOUR_CALM "too_many_pings" (gRPC core, chttp2 ping policy), which ends the stream.
  // It ends only if the client's keepalive timer fires.
  Fixture f;
  f.api.set_svids({f.svid("spiffe://example.org/a", "h")});
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 100);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_HTTP2_MIN_SENT_PING_INTERVAL_WITHOUT_DATA_MS, 10);
  auto stub = SpiffeWorkloadAPI::NewStub(create_workload_channel(f.api.address(), args));
  StreamWatcher watcher;
  watcher.start(*stub);
  const auto status = watcher.wait(10s);
  if (!status) watcher.cancel();
  REQUIRE(status);
  CAPTURE(status->error_message());
  CHECK(status->error_code() == grpc::StatusCode::UNAVAILABLE);
  watcher.wait(10s);
}

namespace {

// A Workload API that answers every call with the same raw bytes, through gRPC's generic
// service: it can send what protoc's generated server (the fake) never would, a message that
// does not decode. It reads the request, writes the bytes, and ends the call with OK.
class RawWorkloadApi {
 public:
  RawWorkloadApi(const std::string& socket_path, std::string bytes) : service_(std::move(bytes)) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix://" + socket_path, grpc::InsecureServerCredentials());
    builder.RegisterCallbackGenericService(&service_);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
  }
  ~RawWorkloadApi() { server_->Shutdown(std::chrono::system_clock::now() + 2s); }

  std::vector<std::string> methods() {
    std::lock_guard lock(service_.mutex);
    return service_.methods;
  }

 private:
  class Reactor final : public grpc::ServerGenericBidiReactor {
   public:
    explicit Reactor(const std::string& bytes) {
      grpc::Slice slice(bytes);
      reply_ = grpc::ByteBuffer(&slice, 1);
      StartRead(&request_);
    }
    void OnReadDone(bool ok) override {
      if (!ok) {
        Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request"));
        return;
      }
      StartWrite(&reply_);
    }
    void OnWriteDone(bool) override { Finish(grpc::Status::OK); }
    // The reactor frees itself: gRPC never touches it after OnDone (as in the fake).
    void OnDone() override { delete this; }

   private:
    grpc::ByteBuffer request_;
    grpc::ByteBuffer reply_;
  };

  struct Service final : grpc::CallbackGenericService {
    explicit Service(std::string b) : bytes(std::move(b)) {}
    grpc::ServerGenericBidiReactor* CreateReactor(
        grpc::GenericCallbackServerContext* context) override {
      {
        std::lock_guard lock(mutex);
        methods.push_back(context->method());
      }
      return new Reactor(bytes);
    }
    std::string bytes;
    std::mutex mutex;
    std::vector<std::string> methods;
  };

  Service service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace

TEST_CASE("a message that does not decode ends the call with a retryable error naming it") {
  Fixture f;
  // A length-delimited field 1 that claims more bytes than the message has.
  RawWorkloadApi raw(f.dir.file("raw.sock"), std::string("\x0a\x40truncated", 11));
  auto client = f.make_client(f.dir.file("raw.sock"));

  auto stream = client->open_x509_stream();
  const X509Result r = f.run(stream->next());
  check_error(r, errc::workload_unavailable, static_cast<int>(grpc::StatusCode::INTERNAL));
  CHECK(r.error().retryable());
  CHECK(r.error().message.find("sent a malformed X509SVIDResponse: a field longer than the "
                               "message") != std::string::npos);
  stream.reset();

  const JwtResult j = f.run(client->fetch_jwt_once("aud", std::nullopt, Clock::now() + 10s));
  REQUIRE_FALSE(j);
  CHECK(j.error().cls == errc::workload_unavailable);
  CHECK(j.error().message.find("sent a malformed JWTSVIDResponse") != std::string::npos);

  // The methods by their gRPC names, as the generated stubs of the Workload API call them.
  CHECK(raw.methods() == std::vector<std::string>{"/SpiffeWorkloadAPI/FetchX509SVID",
                                                  "/SpiffeWorkloadAPI/FetchJWTSVID"});
  client.reset();
}

}  // namespace awh::spiffe
