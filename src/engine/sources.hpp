#pragma once
// Identity sources on the SPIFFE Workload API (spiffe/workload_client.hpp): the X.509-SVID
// stream and the JWT-SVID fetch. Both select the SVID (--hint, --spiffe-id) and check it before
// it is used.

#include <memory>
#include <optional>
#include <string>

#include "engine/pieces.hpp"
#include "spiffe/workload_client.hpp"

namespace awh::engine {

// FetchX509SVID. fetch(): the newest streamed SVID, or (one-shot) the first message, retried
// while the agent is unavailable or has no identity for us yet (SPIFFE Workload Endpoint §6),
// until the deadline; INVALID_ARGUMENT is final. stream(): one FetchX509SVID stream; an update
// whose certificate differs from the newest one is a rotation, the same certificate with another
// bundle is not.
class X509Source final : public IdentitySource {
 public:
  X509Source(spiffe::WorkloadClient& workload, spiffe::Selector selector)
      : workload_(workload), selector_(std::move(selector)) {}
  boost::asio::awaitable<Result<Identity>> fetch(Deadline deadline) override;
  bool streams() const override { return true; }
  boost::asio::awaitable<Error> stream(std::function<void(event::SvidUpdate)> on_update) override;
  void cancel_stream() override;

 private:
  spiffe::WorkloadClient& workload_;
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

// The SVID the selectors pick (the first one without selectors), parsed and checked.
Result<spiffe::X509Svid> choose_svid(const std::vector<spiffe::RawX509Svid>& svids,
                                     const spiffe::Selector& selector);

}  // namespace awh::engine
