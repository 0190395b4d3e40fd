#pragma once
// An in-process SPIFFE Workload API (a stand-in for the SPIRE agent) for tests, served with
// gRPC's callback API on `unix:<socket_path>`.
//
// Behaviour mirrors the SPIFFE standards (SPIFFE_Workload_Endpoint.md, SPIFFE_Workload_API.md)
// and SPIRE where the standards leave room:
// - Every call must carry the metadata `workload.spiffe.io: true`; otherwise it finishes with
//   INVALID_ARGUMENT "security header missing from request" and is counted in
//   rejected_without_header().
// - Then, in this order: a pending fail_next() failure; set_no_identity(true) or no SVIDs yet ->
//   PERMISSION_DENIED "no identity issued" (what SPIRE answers before the workload is attested).
// - FetchX509SVID writes the full state at once, keeps the stream open, and writes the full state
//   again after every set_svids(). Streams end when the client cancels, at end_streams(), when
//   set_svids({}) or set_no_identity(true) removes the identity (PERMISSION_DENIED, as SPIRE
//   does), or at shutdown (UNAVAILABLE).
// - FetchJWTSVID needs at least one audience (INVALID_ARGUMENT otherwise, as SPIRE), answers the
//   JWT-SVIDs whose spiffe_id matches the request's (all of them if the request names none), and
//   records the request's audiences and spiffe_id. While hold_jwt_calls(true), admitted
//   FetchJWTSVID calls are left unanswered (an agent slow to sign) until hold_jwt_calls(false)
//   answers them, the client cancels (CANCELLED), or shutdown (UNAVAILABLE).
// FetchX509Bundles, FetchJWTBundles and ValidateJWTSVID stay UNIMPLEMENTED.
//
// Threads: every public member may be called from any thread, concurrently with RPCs.
// Shutdown is bounded (about a second) and the object may be destroyed with client streams still
// open; clients then see UNAVAILABLE or CANCELLED.

#include <grpcpp/support/status_code_enum.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace grpc {
class Server;
}

namespace awh::testpeers {

namespace detail {
struct FakeWorkloadState;
class FakeWorkloadService;
}  // namespace detail

struct FakeSvid {
  std::string spiffe_id;
  std::string chain_der;   // x509_svid: leaf first, then intermediates, concatenated DER
  std::string key_der;     // x509_svid_key: unencrypted PKCS#8 DER
  std::string bundle_der;  // bundle: concatenated DER CA certificates
  std::string hint;
};

struct FakeJwtSvid {
  std::string spiffe_id;
  std::string token;  // the compact JWT, returned verbatim as JWTSVID.svid
  std::string hint;
};

class FakeWorkloadApi {
 public:
  // Builds and starts the server on `unix:<socket_path>` (an absolute path; an existing socket
  // file there is replaced). Throws std::runtime_error if the server cannot start.
  // With `tcp_addresses` (e.g. "127.0.0.1:0", "[::1]:0") it also listens there; tcp_ports() gives
  // the ports chosen, in order.
  explicit FakeWorkloadApi(std::string socket_path, std::vector<std::string> tcp_addresses = {});
  ~FakeWorkloadApi();  // shutdown(), then frees the server
  FakeWorkloadApi(const FakeWorkloadApi&) = delete;
  FakeWorkloadApi& operator=(const FakeWorkloadApi&) = delete;

  const std::string& socket_path() const;
  std::string address() const;  // "unix:<socket_path>", what gRPC clients dial
  const std::vector<int>& tcp_ports() const { return tcp_ports_; }

  // Replaces the X.509 state; every open FetchX509SVID stream is sent the new full state (only
  // the newest, if several updates arrive while a write is in flight). An empty vector ends
  // open streams with PERMISSION_DENIED "no identity issued".
  void set_svids(std::vector<FakeSvid> svids);
  void set_jwt_svids(std::vector<FakeJwtSvid> svids);

  // The next `count` FetchX509SVID/FetchJWTSVID calls (that carry the security header) finish
  // at once with this status. Replaces any failure still pending.
  void fail_next(grpc::StatusCode code, int count,
                 std::string message = "injected failure (fake workload api)");
  // While true, calls finish with PERMISSION_DENIED "no identity issued"; turning it on also
  // ends open streams that way.
  void set_no_identity(bool on);
  // Ends every open FetchX509SVID stream with this status (an agent restart, say).
  void end_streams(grpc::StatusCode code, std::string message);
  // While true, FetchJWTSVID calls that pass the checks above wait unanswered; turning it off
  // answers the waiting ones (with the state at that moment).
  void hold_jwt_calls(bool on);

  int calls() const;                    // every call received, including rejected ones
  int rejected_without_header() const;  // calls without `workload.spiffe.io: true`
  int open_streams() const;             // FetchX509SVID streams not yet done
  int held_jwt_calls() const;           // FetchJWTSVID calls held and not yet done
  std::vector<std::string> last_jwt_audiences() const;  // of the last FetchJWTSVID call
  std::string last_jwt_spiffe_id() const;               // of the last FetchJWTSVID call

  // Bounded waits for tests (no sleeps): true once the condition holds, false on timeout.
  bool wait_for_calls(int at_least, std::chrono::milliseconds timeout) const;
  bool wait_for_open_streams(int exactly, std::chrono::milliseconds timeout) const;
  bool wait_for_held_jwt_calls(int exactly, std::chrono::milliseconds timeout) const;

  // Ends open streams with UNAVAILABLE, then shuts the server down with a 1 s deadline after
  // which remaining calls are cancelled. Idempotent; the destructor calls it.
  void shutdown();

 private:
  std::string socket_path_;
  std::vector<int> tcp_ports_;
  // Shared with the service and with every reactor, so that a reactor finishing late can
  // never touch freed state.
  std::shared_ptr<detail::FakeWorkloadState> state_;
  // The service is declared before the server so that it is destroyed after it.
  std::unique_ptr<detail::FakeWorkloadService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::once_flag shutdown_once_;
};

}  // namespace awh::testpeers
