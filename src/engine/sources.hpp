#pragma once
// Identity sources on the SPIFFE Workload API (spiffe/workload_client.hpp): the X.509-SVID
// stream and the JWT-SVID fetch. Both select the SVID (--hint, --spiffe-id) and check it before
// it is used.

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/pieces.hpp"
#include "spiffe/workload_client.hpp"

namespace awh::engine {

// One FetchX509SVID stream shared by several X509Sources (--config: several exchanges, one
// Workload API stream). subscribe() gives a stream handle: the first one opens the real stream;
// a later one gets the newest message at once (every message carries the full state), then
// every message as it comes. When the real stream ends, every handle gets its error and the
// next subscribe() opens a new one; when every handle is cancelled, the real stream is
// cancelled too. Each source keeps its own reconnect schedule. Threads: the io_context's only;
// it must outlive its handles and be destroyed before the WorkloadClient.
class SharedX509Stream {
 public:
  SharedX509Stream(boost::asio::any_io_executor executor, spiffe::WorkloadClient& workload)
      : executor_(std::move(executor)), workload_(workload) {}
  ~SharedX509Stream();
  SharedX509Stream(const SharedX509Stream&) = delete;
  SharedX509Stream& operator=(const SharedX509Stream&) = delete;

  std::unique_ptr<spiffe::X509SvidStream> subscribe();
  int opened() const { return opened_; }  // real streams opened so far (tests, logs)

 private:
  class Handle;
  boost::asio::awaitable<void> pump(spiffe::X509SvidStream* upstream);
  void unsubscribe(Handle* handle);

  boost::asio::any_io_executor executor_;
  spiffe::WorkloadClient& workload_;
  // The open stream, and cancelled ones whose pump has not seen the end yet: owned here, so that
  // every stream goes before the WorkloadClient, whatever the pumps' state at shutdown.
  std::unique_ptr<spiffe::X509SvidStream> upstream_;
  std::vector<std::unique_ptr<spiffe::X509SvidStream>> retired_;
  std::optional<std::vector<spiffe::RawX509Svid>> latest_;
  std::vector<Handle*> handles_;
  int opened_ = 0;
};

// FetchX509SVID. fetch(): the newest streamed SVID, or (one-shot) the first message, retried
// while the agent is unavailable or has no identity for us yet (SPIFFE Workload Endpoint §6),
// until the deadline; INVALID_ARGUMENT is final. stream(): one FetchX509SVID stream; an update
// whose certificate differs from the newest one is a rotation, the same certificate with another
// bundle is not.
class X509Source final : public IdentitySource {
 public:
  X509Source(spiffe::WorkloadClient& workload, spiffe::Selector selector)
      : workload_(workload), selector_(std::move(selector)) {}
  // Streams through `shared` (which must outlive this source) instead of a stream of its own.
  X509Source(spiffe::WorkloadClient& workload, SharedX509Stream& shared, spiffe::Selector selector)
      : workload_(workload), shared_(&shared), selector_(std::move(selector)) {}
  boost::asio::awaitable<Result<Identity>> fetch(Deadline deadline) override;
  bool streams() const override { return true; }
  boost::asio::awaitable<Error> stream(std::function<void(event::SvidUpdate)> on_update) override;
  void cancel_stream() override;

 private:
  spiffe::WorkloadClient& workload_;
  SharedX509Stream* shared_ = nullptr;
  spiffe::Selector selector_;
  std::shared_ptr<const spiffe::X509Svid> latest_;
  std::unique_ptr<spiffe::X509SvidStream> stream_;
};

// FetchJWTSVID for `audience`, fresh for every exchange (JWT-SVIDs are short-lived by design),
// retried like the X.509 fetch, then checked (spiffe/jwt.hpp) before STS sees it.
class JwtSource final : public IdentitySource {
 public:
  JwtSource(spiffe::WorkloadClient& workload, std::string audience, spiffe::Selector selector)
      : workload_(workload), audience_(std::move(audience)), selector_(std::move(selector)) {}
  boost::asio::awaitable<Result<Identity>> fetch(Deadline deadline) override;

 private:
  spiffe::WorkloadClient& workload_;
  std::string audience_;
  spiffe::Selector selector_;
};

// Every SVID the Workload API offers (the first FetchX509SVID message, or FetchJWTSVID for
// `audience`, naming `spiffe_id` when given), retried like the sources' fetch until `deadline`.
boost::asio::awaitable<Result<std::vector<spiffe::RawX509Svid>>> fetch_x509_svids(
    spiffe::WorkloadClient& workload, Deadline deadline);
boost::asio::awaitable<Result<std::vector<spiffe::RawJwtSvid>>> fetch_jwt_svids(
    spiffe::WorkloadClient& workload, std::string audience, std::optional<std::string> spiffe_id,
    Deadline deadline);

// The SVID the selectors pick (the first one without selectors), parsed and checked.
Result<spiffe::X509Svid> choose_svid(const std::vector<spiffe::RawX509Svid>& svids,
                                     const spiffe::Selector& selector);

}  // namespace awh::engine
