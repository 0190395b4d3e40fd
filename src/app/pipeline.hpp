#pragma once
// The steps every mode shares (design.md §1): get the identity from the Workload API (retrying
// while the agent isn't ready), pick and check the SVID, exchange it for AWS credentials.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "app/options.hpp"
#include "creds/credentials.hpp"
#include "net/http_client.hpp"
#include "spiffe/svid.hpp"
#include "spiffe/workload_client.hpp"
#include "util/error.hpp"

namespace awh::app {

using Deadline = std::chrono::steady_clock::time_point;

// Credentials, and a description of the identity they came from for logs ("X.509-SVID
// spiffe://… (serial …)"; no secrets).
struct Exchanged {
  creds::Credentials credentials;
  std::string identity;
};

// Start-up work every mode shares, before any network I/O: for the file modes, the check that
// the credentials file can be written (creds::preflight); then the HTTPS client and its trust
// store.
Result<std::unique_ptr<net::HttpClient>> prepare(const Options& options);

// The first FetchX509SVID message, retried until `deadline` while the agent is unavailable or
// has no identity for us yet (SPIFFE Workload Endpoint §6); INVALID_ARGUMENT is final.
boost::asio::awaitable<Result<std::vector<spiffe::RawX509Svid>>> fetch_x509(spiffe::WorkloadClient& workload,
                                                                            Deadline deadline);

// The SVID the selectors pick (the first one without selectors), parsed and checked.
Result<spiffe::X509Svid> choose_svid(const std::vector<spiffe::RawX509Svid>& svids,
                                     const spiffe::Selector& selector);

// Roles Anywhere CreateSession with `svid` (with its own retries of transient failures).
boost::asio::awaitable<Result<creds::Credentials>> create_session_with(net::HttpClient& http, const Options& options,
                                                                       const spiffe::X509Svid& svid, Deadline deadline);

// fetch_x509 + choose_svid + create_session_with.
boost::asio::awaitable<Result<Exchanged>> exchange_x509(net::HttpClient& http, spiffe::WorkloadClient& workload,
                                                        const Options& options, Deadline deadline);

// A fresh JWT-SVID for --audience (retried like fetch_x509), selected and checked, exchanged
// with STS AssumeRoleWithWebIdentity.
boost::asio::awaitable<Result<Exchanged>> exchange_jwt(net::HttpClient& http, spiffe::WorkloadClient& workload,
                                                       const Options& options, Deadline deadline);

}  // namespace awh::app
