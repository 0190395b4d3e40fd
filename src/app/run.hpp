#pragma once
// The driver: assembles the engine from the plan, runs it on one io_context, and returns the
// exit code.

#include "app/plan.hpp"

namespace awh::app {

// Runs `plan` to completion: one-shot (stdout carries the credentials on success only, one
// clear error line on stderr otherwise) or daemon (until SIGTERM/SIGINT). Returns the process
// exit code (0 or 1).
int run(const Plan& plan);

// x509-svids and jwt-svids (plan.listing): fetches the SVIDs once (retrying within --timeout)
// and prints the listing on stdout (app/svid_listing.hpp). Returns 0, or 1 after one error line
// when the Workload API gave nothing.
int list_svids(const Plan& plan);

}  // namespace awh::app
