#pragma once
// The driver: assembles the engine from the plan, runs it on one io_context, and returns the
// exit code.

#include "app/plan.hpp"

namespace awh::app {

// Runs `plan` to completion: one-shot (stdout carries the credentials on success only, one
// clear error line on stderr otherwise) or daemon (until SIGTERM/SIGINT). Returns the process
// exit code (0 or 1).
int run(const Plan& plan);

}  // namespace awh::app
