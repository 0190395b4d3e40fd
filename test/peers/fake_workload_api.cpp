#include "fake_workload_api.hpp"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_callback.h>

#include <condition_variable>
#include <cstdint>
#include <iterator>
#include <optional>
#include <set>
#include <stdexcept>
#include <utility>

#include "workload.grpc.pb.h"

namespace awh::testpeers {
namespace detail {
namespace {

// SPIFFE Workload Endpoint §6 / SPIRE: the header a client must send so that a browser or a
// confused deputy can't be tricked into calling the Workload API.
constexpr const char* kSecurityHeader = "workload.spiffe.io";
constexpr const char* kSecurityHeaderMissing = "security header missing from request";
constexpr const char* kNoIdentity = "no identity issued";

grpc::Status no_identity_status() {
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, kNoIdentity);
}

// SPIRE accepts the call only when the header has exactly one value, "true".
bool has_security_header(const grpc::CallbackServerContext& ctx) {
  const auto& md = ctx.client_metadata();
  const auto [first, last] = md.equal_range(kSecurityHeader);
  return first != last && std::next(first) == last && first->second == "true";
}

}  // namespace

class X509Stream;
class HeldJwtCall;

// Everything the service and its reactors share. One mutex guards all of it, including every
// X509Stream's own flags, so that a decision ("write now", "finish now") and the gRPC call that
// carries it out happen atomically with respect to the other threads. Calling StartWrite/Finish
// with the mutex held is safe: gRPC runs the resulting reactions (OnWriteDone, OnCancel, OnDone)
// on its executor threads, never inline in the caller (see the "avoid deadlocking with any locks
// in the user code" note in grpcpp/support/client_callback.h; server write/finish tags are
// likewise non-inlineable).
struct FakeWorkloadState {
  mutable std::mutex mu;
  mutable std::condition_variable changed;  // calls or streams changed

  std::shared_ptr<const X509SVIDResponse> x509;  // null: no SVIDs
  std::uint64_t x509_version = 0;                // bumped by every non-empty set_svids
  std::vector<FakeJwtSvid> jwt_svids;

  grpc::Status injected_failure;
  int injected_failures_left = 0;
  bool no_identity = false;
  bool hold_jwt = false;
  bool shutting_down = false;

  int calls = 0;
  int rejected_without_header = 0;
  std::vector<std::string> last_jwt_audiences;
  std::string last_jwt_spiffe_id;

  std::set<X509Stream*> streams;    // registered in the constructor, removed in OnDone
  std::set<HeldJwtCall*> held_jwt;  // likewise

  // The refusal every call gets before its method-specific handling, or nullopt to serve it.
  std::optional<grpc::Status> admit_locked(const grpc::CallbackServerContext& ctx) {
    ++calls;
    changed.notify_all();
    if (!has_security_header(ctx)) {
      ++rejected_without_header;
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, kSecurityHeaderMissing);
    }
    if (shutting_down) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake workload api shutting down");
    }
    if (injected_failures_left > 0) {
      --injected_failures_left;
      return injected_failure;
    }
    if (no_identity) return no_identity_status();
    return std::nullopt;
  }
};

namespace {

// The answer to an admitted FetchJWTSVID call, from the current state. Requires state.mu.
grpc::Status answer_jwt_locked(const FakeWorkloadState& state, const JWTSVIDRequest& request,
                               JWTSVIDResponse& response) {
  if (request.audience().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "audience must be specified");
  }
  for (const FakeJwtSvid& svid : state.jwt_svids) {
    if (!request.spiffe_id().empty() && request.spiffe_id() != svid.spiffe_id) continue;
    JWTSVID* out = response.add_svids();
    out->set_spiffe_id(svid.spiffe_id);
    out->set_svid(svid.token);
    out->set_hint(svid.hint);
  }
  if (response.svids_size() == 0) return no_identity_status();
  return grpc::Status::OK;
}

}  // namespace

// A FetchJWTSVID call held by hold_jwt_calls(true). gRPC keeps `request` and `response` alive
// until OnDone (the callback unary contract), so the answer can be written later.
class HeldJwtCall final : public grpc::ServerUnaryReactor {
 public:
  // Runs in the method handler with state->mu held.
  HeldJwtCall(std::shared_ptr<FakeWorkloadState> state, const JWTSVIDRequest* request,
              JWTSVIDResponse* response)
      : state_(std::move(state)), request_(request), response_(response) {
    state_->held_jwt.insert(this);
    state_->changed.notify_all();
  }

  // Requires state_->mu. Finishes once; later calls (a cancellation racing a release) are no-ops.
  void answer_locked() { finish_locked(answer_jwt_locked(*state_, *request_, *response_)); }
  void finish_locked(grpc::Status status) {
    if (finished_) return;
    finished_ = true;
    Finish(std::move(status));
  }

  void OnCancel() override {
    std::lock_guard lock(state_->mu);
    finish_locked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    {
      std::lock_guard lock(state_->mu);
      state_->held_jwt.erase(this);
      state_->changed.notify_all();
    }
    delete this;  // self-deleting like X509Stream (see there); paired with the `new` below
  }

 private:
  std::shared_ptr<FakeWorkloadState> state_;
  const JWTSVIDRequest* request_;
  JWTSVIDResponse* response_;
  bool finished_ = false;
};

// One open FetchX509SVID stream. At most one write is in flight; a state that arrives meanwhile
// is written from OnWriteDone (only the newest: every message carries the full state, so
// intermediate states can be skipped). Finish waits for an in-flight write, too.
class X509Stream final : public grpc::ServerWriteReactor<X509SVIDResponse> {
 public:
  // Runs in the method handler with state->mu held. Operations started before gRPC binds the
  // stream are backlogged by the library and issued once the handler returns.
  explicit X509Stream(std::shared_ptr<FakeWorkloadState> state) : state_(std::move(state)) {
    state_->streams.insert(this);
    state_->changed.notify_all();
    write_latest_locked();
  }

  // Requires state_->mu. Starts writing the current state unless it was already sent, a write
  // is in flight (OnWriteDone will come back here), or the stream is finishing.
  void write_latest_locked() {
    if (finishing() || write_in_flight_) return;
    if (!state_->x509 || state_->x509_version == sent_version_) return;
    in_flight_ = state_->x509;  // keeps the message alive until OnWriteDone, as StartWrite needs
    sent_version_ = state_->x509_version;
    write_in_flight_ = true;
    StartWrite(in_flight_.get());
  }

  // Requires state_->mu. Finishes the stream once (gRPC requires exactly one Finish, even after
  // a cancellation); deferred to OnWriteDone while a write is in flight.
  void finish_locked(grpc::Status status) {
    if (finishing()) return;
    if (write_in_flight_) {
      pending_finish_ = std::move(status);
      return;
    }
    finish_started_ = true;
    Finish(std::move(status));
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(state_->mu);
    write_in_flight_ = false;
    in_flight_.reset();
    if (pending_finish_) {
      grpc::Status status = std::move(*pending_finish_);
      pending_finish_.reset();
      finish_locked(std::move(status));
    } else if (!ok) {
      // The client is gone or the call was cancelled; no further write can succeed.
      finish_locked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
    } else {
      write_latest_locked();
    }
  }

  void OnCancel() override {
    std::lock_guard lock(state_->mu);
    finish_locked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    {
      std::lock_guard lock(state_->mu);
      state_->streams.erase(this);
      state_->changed.notify_all();
    }
    // gRPC's callback contract: OnDone is the last reaction and the library never touches the
    // reactor afterwards, so the reactor frees itself. This is the commented exception to "no
    // raw new/delete", paired with the `new` in FetchX509SVID. Once the stream is out
    // of the set (above), no other thread can reach it.
    delete this;
  }

 private:
  bool finishing() const { return finish_started_ || pending_finish_.has_value(); }

  std::shared_ptr<FakeWorkloadState> state_;
  std::shared_ptr<const X509SVIDResponse> in_flight_;
  std::uint64_t sent_version_ = 0;
  bool write_in_flight_ = false;
  bool finish_started_ = false;
  std::optional<grpc::Status> pending_finish_;
};

// A FetchX509SVID call refused at once.
class RefusedStream final : public grpc::ServerWriteReactor<X509SVIDResponse> {
 public:
  explicit RefusedStream(grpc::Status status) { Finish(std::move(status)); }
  // Self-deleting like X509Stream (see there); paired with the `new` in FetchX509SVID.
  void OnDone() override { delete this; }
};

class FakeWorkloadService final : public SpiffeWorkloadAPI::CallbackService {
 public:
  explicit FakeWorkloadService(std::shared_ptr<FakeWorkloadState> state)
      : state_(std::move(state)) {}

  grpc::ServerWriteReactor<X509SVIDResponse>* FetchX509SVID(
      grpc::CallbackServerContext* ctx, const X509SVIDRequest* /*request*/) override {
    std::lock_guard lock(state_->mu);
    if (auto refusal = state_->admit_locked(*ctx)) return new RefusedStream(std::move(*refusal));
    if (!state_->x509) return new RefusedStream(no_identity_status());
    // Freed by itself in OnDone (gRPC's reactor ownership contract).
    return new X509Stream(state_);
  }

  grpc::ServerUnaryReactor* FetchJWTSVID(grpc::CallbackServerContext* ctx,
                                         const JWTSVIDRequest* request,
                                         JWTSVIDResponse* response) override {
    std::lock_guard lock(state_->mu);
    if (has_security_header(*ctx)) {
      state_->last_jwt_audiences.assign(request->audience().begin(), request->audience().end());
      state_->last_jwt_spiffe_id = request->spiffe_id();
    }
    std::optional<grpc::Status> refusal = state_->admit_locked(*ctx);
    // Freed by itself in OnDone (gRPC's reactor ownership contract).
    if (!refusal && state_->hold_jwt) return new HeldJwtCall(state_, request, response);
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(refusal ? std::move(*refusal)
                            : answer_jwt_locked(*state_, *request, *response));
    return reactor;
  }

 private:
  std::shared_ptr<FakeWorkloadState> state_;
};

}  // namespace detail

using detail::FakeWorkloadService;
using detail::FakeWorkloadState;

FakeWorkloadApi::FakeWorkloadApi(std::string socket_path, std::vector<std::string> tcp_addresses)
    : socket_path_(std::move(socket_path)),
      tcp_ports_(tcp_addresses.size(), 0),
      state_(std::make_shared<FakeWorkloadState>()),
      service_(std::make_unique<FakeWorkloadService>(state_)) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address(), grpc::InsecureServerCredentials());
  for (std::size_t i = 0; i < tcp_addresses.size(); ++i) {
    builder.AddListeningPort(tcp_addresses[i], grpc::InsecureServerCredentials(), &tcp_ports_[i]);
  }
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();  // null if any listening port failed to bind
  if (!server_) {
    throw std::runtime_error("fake workload api: cannot serve on " + address());
  }
}

FakeWorkloadApi::~FakeWorkloadApi() { shutdown(); }

const std::string& FakeWorkloadApi::socket_path() const { return socket_path_; }

std::string FakeWorkloadApi::address() const { return "unix:" + socket_path_; }

void FakeWorkloadApi::set_svids(std::vector<FakeSvid> svids) {
  std::shared_ptr<X509SVIDResponse> message;
  if (!svids.empty()) {
    message = std::make_shared<X509SVIDResponse>();
    for (FakeSvid& svid : svids) {
      X509SVID* out = message->add_svids();
      out->set_spiffe_id(std::move(svid.spiffe_id));
      out->set_x509_svid(std::move(svid.chain_der));
      out->set_x509_svid_key(std::move(svid.key_der));
      out->set_bundle(std::move(svid.bundle_der));
      out->set_hint(std::move(svid.hint));
    }
  }
  std::lock_guard lock(state_->mu);
  if (!message) {
    // SPIRE ends the stream with PERMISSION_DENIED when the workload loses its last identity.
    state_->x509.reset();
    for (detail::X509Stream* stream : state_->streams)
      stream->finish_locked(detail::no_identity_status());
    return;
  }
  state_->x509 = std::move(message);
  ++state_->x509_version;
  for (detail::X509Stream* stream : state_->streams) stream->write_latest_locked();
}

void FakeWorkloadApi::set_jwt_svids(std::vector<FakeJwtSvid> svids) {
  std::lock_guard lock(state_->mu);
  state_->jwt_svids = std::move(svids);
}

void FakeWorkloadApi::fail_next(grpc::StatusCode code, int count, std::string message) {
  std::lock_guard lock(state_->mu);
  state_->injected_failure = grpc::Status(code, std::move(message));
  state_->injected_failures_left = count > 0 ? count : 0;
}

void FakeWorkloadApi::set_no_identity(bool on) {
  std::lock_guard lock(state_->mu);
  state_->no_identity = on;
  if (on) {
    for (detail::X509Stream* stream : state_->streams)
      stream->finish_locked(detail::no_identity_status());
  }
}

void FakeWorkloadApi::end_streams(grpc::StatusCode code, std::string message) {
  std::lock_guard lock(state_->mu);
  for (detail::X509Stream* stream : state_->streams)
    stream->finish_locked(grpc::Status(code, message));
}

void FakeWorkloadApi::hold_jwt_calls(bool on) {
  std::lock_guard lock(state_->mu);
  state_->hold_jwt = on;
  if (!on) {
    for (detail::HeldJwtCall* call : state_->held_jwt) call->answer_locked();
  }
}

int FakeWorkloadApi::calls() const {
  std::lock_guard lock(state_->mu);
  return state_->calls;
}

int FakeWorkloadApi::rejected_without_header() const {
  std::lock_guard lock(state_->mu);
  return state_->rejected_without_header;
}

int FakeWorkloadApi::open_streams() const {
  std::lock_guard lock(state_->mu);
  return static_cast<int>(state_->streams.size());
}

int FakeWorkloadApi::held_jwt_calls() const {
  std::lock_guard lock(state_->mu);
  return static_cast<int>(state_->held_jwt.size());
}

std::vector<std::string> FakeWorkloadApi::last_jwt_audiences() const {
  std::lock_guard lock(state_->mu);
  return state_->last_jwt_audiences;
}

std::string FakeWorkloadApi::last_jwt_spiffe_id() const {
  std::lock_guard lock(state_->mu);
  return state_->last_jwt_spiffe_id;
}

bool FakeWorkloadApi::wait_for_calls(int at_least, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mu);
  return state_->changed.wait_for(lock, timeout, [&] { return state_->calls >= at_least; });
}

bool FakeWorkloadApi::wait_for_open_streams(int exactly, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mu);
  return state_->changed.wait_for(
      lock, timeout, [&] { return static_cast<int>(state_->streams.size()) == exactly; });
}

bool FakeWorkloadApi::wait_for_held_jwt_calls(int exactly,
                                              std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mu);
  return state_->changed.wait_for(
      lock, timeout, [&] { return static_cast<int>(state_->held_jwt.size()) == exactly; });
}

void FakeWorkloadApi::shutdown() {
  std::call_once(shutdown_once_, [this] {
    {
      std::lock_guard lock(state_->mu);
      state_->shutting_down = true;  // refuses calls that arrive before the listener closes
      for (detail::X509Stream* stream : state_->streams) {
        stream->finish_locked(
            grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake workload api shutting down"));
      }
      for (detail::HeldJwtCall* call : state_->held_jwt) {
        call->finish_locked(
            grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake workload api shutting down"));
      }
    }
    // Bounded: calls still running at the deadline (say, a write to a client that stopped
    // reading) are cancelled, which completes their operations and lets them finish.
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  });
}

}  // namespace awh::testpeers
