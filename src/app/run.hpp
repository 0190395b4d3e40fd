#pragma once
// The drivers: run the validated command on one io_context and return the exit code.

#include "app/options.hpp"

namespace awh::app {

// Runs `options.command` to completion. Prints credentials to stdout on success only; logs one
// clear error line on failure. Returns the process exit code (0 or 1).
int run(const Options& options);

}  // namespace awh::app
