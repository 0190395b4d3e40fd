#pragma once
// x509-credential-file: the long-running sidecar (design.md §1 and §3, "Renewal").

#include "app/options.hpp"

namespace awh::app {

// Runs until SIGTERM/SIGINT (exit 0) or a failure that retrying can't fix (exit 1): a file that
// can't be written or parsed at start-up, or a Workload API that rejects our request.
int run_daemon(const Options& options);

}  // namespace awh::app
