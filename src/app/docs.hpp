#pragma once
// The command line described as data, and what is generated from it: the man page
// aws-spiffe-workload-helper(1) (roff) and the bash, zsh and fish completion scripts. The
// description is read from the CLI definition itself (app/cli.cpp, describe_cli()), so a flag
// added there appears in the man page and the completions without further edits. What the CLI
// definition doesn't hold (environment variables, exit codes, files, signals) is a table here
// (app/docs.cpp). Pure: text in, text out.

#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace awh::app {

struct FlagDoc {
  std::string name;                  // "--trust-anchor-arn"
  std::string short_name;            // "-v", or empty
  std::string value;                 // the value's name ("ARN", "FILE"); empty: a switch
  std::vector<std::string> choices;  // the only values accepted, if the flag has such a list
  std::string description;
  bool required = false;
  bool repeatable = false;
  // How a shell completes the value: a file name, or nothing to suggest.
  bool file_value() const { return value == "FILE" || value == "PATH"; }
};

struct ArgDoc {                      // a positional argument
  std::string name;                  // "SHELL"
  std::vector<std::string> choices;  // e.g. bash, zsh, fish
  bool required = false;
  std::string description;
};

struct CommandDoc {
  std::string name;
  std::string description;
  std::vector<FlagDoc> flags;
  std::vector<ArgDoc> args;
  bool hidden = false;  // not listed in --help, the completions or the man page's list
};

struct CliDoc {
  std::string program;
  std::string version;
  std::string summary;
  std::vector<FlagDoc> global_flags;  // before the command
  std::vector<CommandDoc> commands;
};

// roff for man(7): NAME, SYNOPSIS, DESCRIPTION, COMMANDS (every flag of every command),
// ENVIRONMENT, EXIT STATUS, SIGNALS, FILES, EXAMPLES, SEE ALSO.
std::string man_page(const CliDoc& cli);

// A completion script for `shell` ("bash", "zsh" or "fish"); errc::usage for another shell.
Result<std::string> completion_script(const CliDoc& cli, std::string_view shell);

inline constexpr std::string_view kShells[] = {"bash", "zsh", "fish"};

}  // namespace awh::app
