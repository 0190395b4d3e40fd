#pragma once
// SPIFFE Workload API client (SPIFFE Workload API §5, Workload Endpoint §6) over gRPC's callback
// API, bridged into Boost.Asio. gRPC runs its reactions on its own threads; a reaction only
// copies the message or final status and posts it to the io_context. Every call carries the
// `workload.spiffe.io: true` metadata the standard requires.
//
// Lifetime: a WorkloadClient must be destroyed before its io_context; its destructor cancels
// open calls and waits (bounded) for gRPC to finish them, so no reaction posts to a dead
// executor. Open streams may be used from the io_context's thread only.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "spiffe/svid.hpp"
#include "util/error.hpp"

namespace awh::spiffe {

// gRPC status -> our error. UNAVAILABLE, PERMISSION_DENIED ("no identity issued" yet), a
// stream that ends, and server-side failures are retryable; INVALID_ARGUMENT and UNIMPLEMENTED
// are not (errc::workload_rejected).
Error map_grpc_status(int grpc_code, std::string_view message, std::string_view target);

class X509SvidStream {
 public:
  virtual ~X509SvidStream() = default;
  // The next full X509SVIDResponse, or the error that ended the stream (then the stream is done).
  virtual boost::asio::awaitable<Result<std::vector<RawX509Svid>>> next() = 0;
  // Ends the call; a pending next() completes with an error. Idempotent.
  virtual void cancel() = 0;
};

class WorkloadClient {
 public:
  // `target` is a gRPC target from workload_api_target(). Creates the channel; no I/O yet.
  WorkloadClient(boost::asio::any_io_executor executor, std::string target);
  ~WorkloadClient();
  WorkloadClient(const WorkloadClient&) = delete;
  WorkloadClient& operator=(const WorkloadClient&) = delete;

  std::unique_ptr<X509SvidStream> open_x509_stream();

  // One attempt: opens FetchX509SVID, waits for the first message until `deadline`, cancels.
  boost::asio::awaitable<Result<std::vector<RawX509Svid>>> fetch_x509_once(
      std::chrono::steady_clock::time_point deadline);

  // One FetchJWTSVID call (unary) for `audience`, naming `spiffe_id` when given, until `deadline`.
  boost::asio::awaitable<Result<std::vector<RawJwtSvid>>> fetch_jwt_once(
      std::string audience, std::optional<std::string> spiffe_id,
      std::chrono::steady_clock::time_point deadline);

  const std::string& target() const { return target_; }

  struct Impl;

 private:
  boost::asio::any_io_executor executor_;
  std::string target_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace awh::spiffe
