#pragma once
// The steps every X.509 mode shares (design.md §1): pick and parse the SVID, exchange it with
// Roles Anywhere.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <vector>

#include "app/options.hpp"
#include "creds/credentials.hpp"
#include "net/http_client.hpp"
#include "spiffe/svid.hpp"
#include "util/error.hpp"

namespace awh::app {

// The SVID the selectors pick (the first one without selectors), parsed and checked.
Result<spiffe::X509Svid> choose_svid(const std::vector<spiffe::RawX509Svid>& svids,
                                     const spiffe::Selector& selector);

// One CreateSession exchange (with its own retries of transient failures) until `deadline`.
boost::asio::awaitable<Result<creds::Credentials>> exchange_x509(net::HttpClient& http, const Options& options,
                                                                 const spiffe::X509Svid& svid,
                                                                 std::chrono::steady_clock::time_point deadline);

}  // namespace awh::app
