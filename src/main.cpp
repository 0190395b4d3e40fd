// aws-spiffe-workload-helper: CLI -> run plan -> engine -> exit code.
#include <cstdio>
#include <cstdlib>

#include "app/cli.hpp"
#include "app/run.hpp"

int main(int argc, char** argv) {
  // gRPC's client channel runs a "backup poller" every 5 s by default, a safety net for polling
  // engines we don't use (epoll1 polls for real). Off, unless the user asks for it: an idle
  // daemon then wakes less (README, "Performance").
  setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "0", /*overwrite=*/0);
  std::vector<std::string> args(argv + 1, argv + argc);
  auto outcome = awh::app::parse_cli(args, [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    return value ? std::optional<std::string>(value) : std::nullopt;
  });
  if (!outcome.plan) {
    std::fputs(outcome.out.c_str(), stdout);
    std::fputs(outcome.err.c_str(), stderr);
    return outcome.exit_code;
  }
  awh::log::configure(outcome.plan->log_level, outcome.plan->log_format);
  return awh::app::run(*outcome.plan);
}
