// The driver of x509-svids and jwt-svids: one Workload API fetch, then the pure listing
// (app/svid_listing.hpp) on stdout.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdio>

#include "app/run.hpp"
#include "app/svid_listing.hpp"
#include "engine/sources.hpp"
#include "spiffe/workload_client.hpp"
#include "util/log.hpp"
#include "util/spawn.hpp"

namespace awh::app {

namespace asio = boost::asio;

namespace {

asio::awaitable<Result<std::string>> listing_text(const Plan& plan,
                                                  spiffe::WorkloadClient& workload) {
  const auto& request = *plan.listing;
  const auto deadline = std::chrono::steady_clock::now() + plan.timeout;
  if (!request.jwt) {
    auto svids = co_await engine::fetch_x509_svids(workload, deadline);
    if (!svids) co_return svids.error().prefixed("cannot get the X.509-SVIDs: ");
    const auto listing = list_x509_svids(*svids, plan.selector);
    co_return request.json ? format_json(listing) : format_text(listing);
  }
  // Without --spiffe-id the agent answers every identity's JWT-SVID; with it, only that one
  // (what the exchange commands would get).
  auto svids = co_await engine::fetch_jwt_svids(workload, request.audience, plan.selector.spiffe_id,
                                                deadline);
  if (!svids) co_return svids.error().prefixed("cannot get the JWT-SVIDs: ");
  const auto listing =
      list_jwt_svids(*svids, plan.selector, request.audience, std::chrono::system_clock::now());
  co_return request.json ? format_json(listing) : format_text(listing);
}

// Prints the listing; the exit code. `plan` and `workload` outlive the task (list_svids runs the
// loop to its end before they go).
asio::awaitable<int> print_listing(const Plan& plan, spiffe::WorkloadClient& workload) {
  auto text = co_await listing_text(plan, workload);
  if (!text) {
    log::error("{}", text.error().message);
    co_return 1;
  }
  std::fwrite(text->data(), 1, text->size(), stdout);
  co_return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int list_svids(const Plan& plan) {
  asio::io_context io(1);
  int exit_code = 1;
  {
    // Declared after the io_context: the client waits for gRPC's calls before the loop goes.
    spiffe::WorkloadClient workload(io.get_executor(), plan.workload_api_target);
    asio::co_spawn(io, print_listing(plan, workload),
                   util::log_failures_or(
                       "the listing",
                       [&](int code) {
                         exit_code = code;
                         io.stop();
                       },
                       [&] { io.stop(); }));
    io.run();
  }
  return exit_code;
}

}  // namespace awh::app
