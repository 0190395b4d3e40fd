#pragma once
// The command line, compatible with spiffe/aws-spiffe-workload-helper, plus our
// additions. Parsing and every validation happen here, before any network I/O. Pure: the
// environment is passed in, nothing is printed.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "app/docs.hpp"
#include "app/plan.hpp"

namespace awh::app {

inline constexpr char kProgram[] = "aws-spiffe-workload-helper";

struct CliOutcome {
  std::optional<Plan> plan;  // set: run the command
  int exit_code = 0;         // otherwise: exit with this code...
  std::string out;           // ...after printing this to stdout (help, version)
  std::string err;           // ...and this to stderr (one-line usage error)
};

using Getenv = std::function<std::optional<std::string>(const char*)>;

// `args` excludes the program name. Besides the exchange commands: `help [COMMAND]`,
// `completion bash|zsh|fish` and the hidden `man` print text (exit 0); `-v`/`--version` print
// version_text().
CliOutcome parse_cli(const std::vector<std::string>& args, const Getenv& getenv);

// The command line as data, read from the same definition parse_cli() uses (for the man page and
// the completion scripts).
CliDoc describe_cli();

// Role session names (IAM): 2..64 characters of [A-Za-z0-9+=,.@_-].
bool valid_role_session_name(std::string_view name);

}  // namespace awh::app
