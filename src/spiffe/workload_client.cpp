#include "spiffe/workload_client.hpp"

#include <absl/synchronization/mutex.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/client_callback.h>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <unordered_set>
#include <vector>

#include "spiffe/grpc_tuning.hpp"
#include "spiffe/workload_wire.hpp"
#include "util/async_event.hpp"
#include "util/log.hpp"
#include "util/secret.hpp"
#include "util/text.hpp"

namespace awh::spiffe {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// SPIFFE Workload Endpoint §6.2: clients must send this header; servers reject calls without it.
constexpr char kSecurityHeader[] = "workload.spiffe.io";

// io-thread state of one stream: what the reactor has handed over.
struct Inbox {
  explicit Inbox(asio::any_io_executor ex) : event(std::move(ex)) {}
  std::optional<std::vector<RawX509Svid>> latest;  // every message carries the full state
  std::optional<Error> done;
  util::AsyncEvent event;  // wakes the reader
};

// The methods, by their gRPC names (the Workload API's service SpiffeWorkloadAPI). The calls go
// through gRPC's generic stub with raw bytes, which spiffe/workload_wire.cpp encodes and decodes:
// no protobuf runtime in the helper.
constexpr char kFetchX509Svid[] = "/SpiffeWorkloadAPI/FetchX509SVID";
constexpr char kFetchJwtSvid[] = "/SpiffeWorkloadAPI/FetchJWTSVID";

grpc::ByteBuffer to_buffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// A received message in one piece. It may hold keys or tokens: the caller wipes it.
util::SecretString to_bytes(const grpc::ByteBuffer& buffer) {
  std::string out;
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return out;
  std::size_t size = 0;
  for (const auto& slice : slices) size += slice.size();
  out.reserve(size);
  for (const auto& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

// A message that does not decode: the call ends with this error (as a protobuf parse failure
// ended it with INTERNAL before), which is retried like any failure of the agent.
Error malformed_message(const Error& why, std::string_view target) {
  Error e = make_error(errc::workload_unavailable,
                       fmt::format("the Workload API at {} sent {}", target, why.message));
  e.grpc_status = static_cast<int>(grpc::StatusCode::INTERNAL);
  return e;
}

}  // namespace

Error map_grpc_status(int grpc_code, std::string_view peer_message, std::string_view target) {
  // The status message comes from the agent: escaped and bounded before it reaches a log line.
  const std::string message =
      util::escape_text(peer_message, util::kMaxPeerText, util::Bytes::ascii);
  const auto code = static_cast<grpc::StatusCode>(grpc_code);
  Error e;
  switch (code) {
    case grpc::StatusCode::OK:
      e = make_error(errc::workload_unavailable,
                     fmt::format("the Workload API at {} closed the stream", target));
      break;
    case grpc::StatusCode::UNAVAILABLE:
      e = make_error(
          errc::workload_unavailable,
          fmt::format("the Workload API at {} is unavailable ({}); is the SPIFFE agent running?",
                      target, message));
      break;
    case grpc::StatusCode::PERMISSION_DENIED:
      // SPIRE answers PERMISSION_DENIED "no identity issued" until it has attested us.
      e = make_error(
          errc::workload_unavailable,
          fmt::format("the Workload API at {} has no identity for this workload yet ({})", target,
                      message));
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      e = make_error(errc::timeout, fmt::format("the Workload API at {} timed out", target));
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::UNIMPLEMENTED:
      e = make_error(
          errc::workload_rejected,
          fmt::format(
              "the Workload API at {} rejected the request: {} ({})", target, message,
              code == grpc::StatusCode::INVALID_ARGUMENT ? "INVALID_ARGUMENT" : "UNIMPLEMENTED"));
      break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      // A message over the size limit: the agent would send the same again, so don't retry.
      e = make_error(errc::workload_rejected,
                     fmt::format("the Workload API at {} sent more than we accept: {} "
                                 "(RESOURCE_EXHAUSTED)",
                                 target, message));
      break;
    case grpc::StatusCode::CANCELLED:
      e = make_error(errc::workload_unavailable,
                     fmt::format("the call to the Workload API at {} was cancelled", target));
      break;
    default:
      // INTERNAL, UNKNOWN...: the agent had a problem; try again later.
      e = make_error(errc::workload_unavailable,
                     fmt::format("the Workload API at {} failed: {} (gRPC code {})", target,
                                 message, grpc_code));
      break;
  }
  e.grpc_status = grpc_code;
  return e;
}

// State shared by the client and every call it started. Calls co-own it, so a reaction that
// arrives after the client is gone still touches live memory; once `closed` is set (by the
// client's destructor, before the io_context goes away) reactions stop posting.
struct CallRegistry {
  std::string target;
  asio::any_io_executor executor;
  std::mutex mutex;
  std::condition_variable idle;
  std::unordered_set<grpc::ClientContext*> active;
  bool closed = false;
  std::vector<std::shared_ptr<void>> retired;  // see finish()

  // Hands `f` to the io_context unless the client is shutting down.
  template <class F>
  void post(F&& f) {
    std::lock_guard lock(mutex);
    if (!closed) asio::post(executor, std::forward<F>(f));
  }

  // The last reaction of a call: forgets `context` and takes the reaction's reference to the
  // call, so that the call (and its ClientContext, which holds a reference to the channel) is
  // freed on the io_context, or by the client's destructor once it is closing, never on a gRPC
  // thread. Freeing the last channel there releases gRPC's callback completion queue from one of
  // the threads that poll it: with the posix poller gRPC then shuts the queue down, joins its
  // own thread and frees the queue under it (an abort in grpc_cq_internal_unref at exit).
  // One critical section, so the destructor that sees `active` empty also sees `retired` full.
  void finish(grpc::ClientContext* context, std::shared_ptr<void> call) {
    std::lock_guard lock(mutex);
    active.erase(context);
    idle.notify_all();
    if (!closed) {
      asio::post(executor, [call = std::move(call)] {});
    } else {
      retired.push_back(std::move(call));
    }
  }
};

struct WorkloadClient::Impl {
  std::shared_ptr<grpc::ChannelInterface> channel;
  std::unique_ptr<grpc::GenericStub> stub;
  std::shared_ptr<CallRegistry> registry;
};

namespace {

// One FetchX509SVID call. Owned by a shared_ptr held by the io-side stream and by itself until
// gRPC calls OnDone (grpcpp/support/client_callback.h: no operation may start after OnDone, and
// OnDone is the last reaction).
class X509Reactor final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                          public std::enable_shared_from_this<X509Reactor> {
 public:
  X509Reactor(std::shared_ptr<CallRegistry> registry, std::shared_ptr<Inbox> inbox)
      : registry_(std::move(registry)), inbox_(std::move(inbox)) {}

  // FetchX509SVID is a server-streaming method. On the wire (gRPC over HTTP/2) that is a call
  // whose client sends one message and half-closes, which is what a bidirectional reactor does
  // with StartWriteLast; gRPC's generic stub offers callback calls only in that form.
  void start(grpc::GenericStub& stub) {
    self_ = shared_from_this();
    context_.AddMetadata(kSecurityHeader, "true");
    {
      std::lock_guard lock(registry_->mutex);
      registry_->active.insert(&context_);
    }
    stub.PrepareBidiStreamingCall(&context_, kFetchX509Svid, grpc::StubOptions(), this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }

  void cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the call is ending; OnDone follows with the status
    auto svids = [&] {
      const util::SecretString bytes = to_bytes(response_);  // wiped when it goes
      response_.Clear();
      return wire::x509_svid_response(bytes);
    }();
    if (!svids) {
      malformed_ = malformed_message(svids.error(), registry_->target);
      context_.TryCancel();  // OnDone follows
      return;
    }
    registry_->post([inbox = inbox_, svids = std::move(*svids)]() mutable {
      if (auto box = inbox.lock()) {
        box->latest = std::move(svids);
        box->event.notify();
      }
    });
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    registry_->post([inbox = inbox_, error = malformed_ ? *malformed_
                                                        : map_grpc_status(status.error_code(),
                                                                          status.error_message(),
                                                                          registry_->target)]() {
      if (auto box = inbox.lock()) {
        box->done = error;
        box->event.notify();
      }
    });
    // After finish() the io_context may free *this: nothing may follow.
    auto registry = registry_;
    registry->finish(&context_, std::move(self_));
  }

 private:
  std::shared_ptr<CallRegistry> registry_;
  std::weak_ptr<Inbox> inbox_;
  grpc::ClientContext context_;
  grpc::ByteBuffer request_ = to_buffer(wire::x509_svid_request());
  grpc::ByteBuffer response_;
  std::optional<Error> malformed_;  // set by OnReadDone before it cancels; read in OnDone
  std::shared_ptr<X509Reactor> self_;
};

class X509StreamImpl final : public X509SvidStream {
 public:
  explicit X509StreamImpl(WorkloadClient::Impl& client)
      : inbox_(std::make_shared<Inbox>(client.registry->executor)),
        reactor_(std::make_shared<X509Reactor>(client.registry, inbox_)) {
    reactor_->start(*client.stub);
  }
  ~X509StreamImpl() override { cancel(); }

  asio::awaitable<Result<std::vector<RawX509Svid>>> next() override {
    while (true) {
      if (inbox_->latest) {
        auto svids = std::move(*inbox_->latest);
        inbox_->latest.reset();
        co_return svids;
      }
      if (inbox_->done) co_return *inbox_->done;
      co_await inbox_->event.wait();
      // Not notified: this coroutine was cancelled (raced against a deadline, say).
      if (auto state = co_await asio::this_coro::cancellation_state;
          state.cancelled() != asio::cancellation_type::none) {
        co_return make_error(errc::timeout, "cancelled");
      }
    }
  }

  void cancel() override { reactor_->cancel(); }

 private:
  std::shared_ptr<Inbox> inbox_;
  std::shared_ptr<X509Reactor> reactor_;
};

// One FetchJWTSVID call: gRPC's unary callback API needs the context, request and response to
// live until the callback runs, so they sit in a shared state the callback co-owns.
struct JwtCall {
  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
};

// io-thread side of a unary call: the result and a timer to wake the waiter.
struct UnaryInbox {
  explicit UnaryInbox(asio::any_io_executor ex) : event(std::move(ex)) {}
  std::optional<Result<std::vector<RawJwtSvid>>> result;
  util::AsyncEvent event;
};

}  // namespace

WorkloadClient::WorkloadClient(asio::any_io_executor executor, std::string target)
    : executor_(std::move(executor)), target_(std::move(target)), impl_(std::make_unique<Impl>()) {
  grpc::ChannelArguments args;
  // Our own retry loop backs off; keep gRPC's reconnect backoff short so the two don't stack
  // (ARCHITECTURE.md, "Workload API").
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 16 * 1024 * 1024);
  // Never through a proxy: gRPC would tunnel a tcp:// address through $grpc_proxy/$http_proxy
  // (its http_proxy mapper), and the SVID's private key would cross the proxy.
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  // No channelz: it registers the channel, its subchannels and sockets in a process-wide
  // registry for gRPC's admin service, which a client of one local socket never serves.
  args.SetInt(GRPC_ARG_ENABLE_CHANNELZ, 0);
  // Debian builds abseil without NDEBUG, so every absl::Mutex::Lock in gRPC would also run
  // abseil's deadlock detector: a graph of every mutex and lock order, kept in memory of its
  // own. It is a debugging aid that abseil's release builds leave off; leave it off here too.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  impl_->registry = std::make_shared<CallRegistry>();
  impl_->registry->target = target_;
  impl_->registry->executor = executor_;
  impl_->channel = create_workload_channel(target_, args);
  impl_->stub = std::make_unique<grpc::GenericStub>(impl_->channel);
}

WorkloadClient::~WorkloadClient() {
  auto& registry = *impl_->registry;
  std::unique_lock lock(registry.mutex);
  registry.closed = true;  // from here on no reaction posts to the executor
  for (auto* context : registry.active) context->TryCancel();
  // Bounded: a cancelled call finishes promptly; never hang the exit on gRPC. A call that is
  // still running afterwards co-owns the registry, so its late reactions stay safe.
  if (!registry.idle.wait_for(lock, std::chrono::seconds(3),
                              [&] { return registry.active.empty(); })) {
    log::warn("gRPC calls to the Workload API did not finish at shutdown");
  }
  // Finished calls are freed here, while the channel is still ours (see CallRegistry::finish).
  auto retired = std::move(registry.retired);
  lock.unlock();
  retired.clear();
}

std::unique_ptr<X509SvidStream> WorkloadClient::open_x509_stream() {
  return std::make_unique<X509StreamImpl>(*impl_);
}

asio::awaitable<Result<std::vector<RawJwtSvid>>> WorkloadClient::fetch_jwt_once(
    std::string audience, std::optional<std::string> spiffe_id,
    std::chrono::steady_clock::time_point deadline) {
  auto call = std::make_shared<JwtCall>();
  auto inbox = std::make_shared<UnaryInbox>(executor_);
  call->context.AddMetadata(kSecurityHeader, "true");
  // gRPC deadlines are wall-clock time points.
  // (Bounded to a day, so that a far deadline such as time_point::max() can't overflow.)
  const auto left = std::min<std::chrono::steady_clock::duration>(
      deadline - std::chrono::steady_clock::now(), std::chrono::hours(24));
  call->context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::duration_cast<std::chrono::system_clock::duration>(left));
  call->request = to_buffer(wire::jwt_svid_request(audience, spiffe_id));
  auto registry = impl_->registry;
  {
    std::lock_guard lock(registry->mutex);
    registry->active.insert(&call->context);
  }
  std::weak_ptr<UnaryInbox> weak_inbox = inbox;
  impl_->stub->UnaryCall(
      &call->context, kFetchJwtSvid, grpc::StubOptions(), &call->request, &call->response,
      [call, registry, weak_inbox](grpc::Status status) mutable {
        Result<std::vector<RawJwtSvid>> result = make_error(errc::internal, "unset");
        if (status.ok()) {
          const util::SecretString bytes = to_bytes(call->response);  // tokens: wiped
          call->response.Clear();
          result = wire::jwt_svid_response(bytes);
          if (!result) result = malformed_message(result.error(), registry->target);
        } else {
          result = map_grpc_status(status.error_code(), status.error_message(), registry->target);
        }
        registry->post([weak_inbox, result = std::move(result)]() mutable {
          if (auto box = weak_inbox.lock()) {
            box->result = std::move(result);
            box->event.notify();
          }
        });
        grpc::ClientContext* context = &call->context;  // before `call` is moved from
        registry->finish(context, std::move(call));
      });
  // gRPC's deadline ends the call; the wait has no timer of its own.
  while (!inbox->result) {
    if (!co_await inbox->event.wait()) break;  // cancelled
  }
  if (!inbox->result) {
    call->context.TryCancel();
    co_return make_error(errc::internal, "the JWT-SVID wait was interrupted");
  }
  co_return std::move(*inbox->result);
}

asio::awaitable<Result<std::vector<RawX509Svid>>> WorkloadClient::fetch_x509_once(
    std::chrono::steady_clock::time_point deadline) {
  auto stream = open_x509_stream();
  asio::steady_timer timer(executor_, deadline);
  auto raced = co_await (stream->next() || timer.async_wait(kUseTuple));
  stream->cancel();
  if (raced.index() == 1) {
    co_return make_error(errc::timeout,
                         fmt::format("no answer from the Workload API at {} in time", target_));
  }
  co_return std::get<0>(std::move(raced));
}

}  // namespace awh::spiffe
