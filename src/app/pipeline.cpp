#include "app/pipeline.hpp"

#include "aws/rolesanywhere_client.hpp"
#include "util/log.hpp"

namespace awh::app {

Result<spiffe::X509Svid> choose_svid(const std::vector<spiffe::RawX509Svid>& svids,
                                     const spiffe::Selector& selector) {
  auto index = spiffe::select_svid(svids, selector);
  if (!index) return index.error();
  if (selector.empty() && svids.size() > 1) {
    log::info("the Workload API returned {} SVIDs; using the first, {} (select with --hint or --spiffe-id)",
              svids.size(), svids[*index].spiffe_id);
  }
  return spiffe::parse_x509_svid(svids[*index]);
}

boost::asio::awaitable<Result<creds::Credentials>> exchange_x509(net::HttpClient& http, const Options& options,
                                                                 const spiffe::X509Svid& svid,
                                                                 std::chrono::steady_clock::time_point deadline) {
  log::debug("using X.509-SVID {} (serial {}, {} intermediate(s))", svid.spiffe_id, svid.serial_decimal,
             svid.intermediates_der.size());
  const aws::SigningIdentity identity{svid.key.get(), svid.leaf_der, svid.intermediates_der, svid.serial_decimal};
  auto credentials =
      co_await aws::create_session(http, options.endpoint, options.session, identity, aws::RetryPolicy{}, deadline);
  if (credentials) {
    log::debug("received credentials {} expiring {}", credentials->access_key_id, credentials->expiration);
  }
  co_return credentials;
}

}  // namespace awh::app
