#include "app/docs.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace awh::app {
namespace {

// What the CLI definition does not hold. Keep in step with the code that reads each variable.
struct EnvDoc {
  const char* name;
  const char* description;
};
constexpr EnvDoc kEnvironment[] = {
    {"SPIFFE_ENDPOINT_SOCKET",
     "The Workload API address when --workload-api-addr is not given (unix:///path or "
     "tcp://IP:port)."},
    {"AWS_CA_BUNDLE",
     "A PEM file of CAs to trust for the Roles Anywhere or STS endpoint when --ca-bundle is not "
     "given; otherwise the system trust store is used."},
    {"AWS_REGION, AWS_DEFAULT_REGION",
     "The JWT commands' region for the default STS endpoint when --region is not given (the "
     "X.509 commands take the trust anchor ARN's region)."},
    {"AWS_ENDPOINT_URL_ROLESANYWHERE, AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL",
     "The Roles Anywhere or STS endpoint when --endpoint is not given: the service's own variable "
     "first, then the general one."},
    {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
     "When true, the AWS_ENDPOINT_URL variables are ignored."},
    {"AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT",
     "Use the FIPS or the dual-stack endpoint, as --use-fips-endpoint and "
     "--use-dualstack-endpoint do."},
    {"https_proxy, HTTPS_PROXY",
     "The HTTP proxy for the AWS endpoint when --proxy is not given (lower case first); "
     "--no-proxy ignores it. The Workload API is never proxied."},
    {"no_proxy, NO_PROXY", "Hosts and domains reached without the proxy (lower case first)."},
    {"NOTIFY_SOCKET",
     "Set by systemd for Type=notify services: the daemons send READY=1 once the first "
     "credentials are written (file daemons) or served (serve commands), with --config once every "
     "exchange has delivered to every output, and STOPPING=1 when they stop. A path or an '@' "
     "abstract socket name."},
    {"WATCHDOG_USEC, WATCHDOG_PID",
     "Set by systemd with WatchdogSec=: the daemons send WATCHDOG=1 every half interval while "
     "their event loop runs."},
    {"XDG_RUNTIME_DIR",
     "With --cache and no --cache-dir, the cache lives in $XDG_RUNTIME_DIR/"
     "aws-spiffe-workload-helper (else in /tmp/aws-spiffe-workload-helper-<uid>)."},
    {"SSL_CERT_DIR, SSL_CERT_FILE",
     "The system trust store OpenSSL uses when neither --ca-bundle nor AWS_CA_BUNDLE is given."},
    {"GRPC_TRACE, GRPC_VERBOSITY",
     "Cleared at start (gRPC's transport trace would print the SVID key) unless "
     "--allow-grpc-trace is given."},
    {"AWH_GRPC_STOCK",
     "For diagnosis: a comma-separated list of the idle-time gRPC changes to turn off, \"queue\" "
     "(our completion queue), \"timer\" (our timer list) or \"all\"; gRPC's stock behaviour comes "
     "back."},
    {"GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS",
     "gRPC's backup poller interval; 0 (off) unless set, which keeps an idle daemon quiet."},
};

struct ExitDoc {
  int code;
  const char* description;
};
constexpr ExitDoc kExitCodes[] = {
    {0, "Success; a daemon stopped by SIGTERM or SIGINT."},
    {1,
     "A runtime failure: one line on standard error says what failed (the Workload API, the "
     "exchange, the file, the listener) and what to check."},
    {2, "A usage error: the line names the flag or command that is wrong and points to --help."},
};

struct FileDoc {
  const char* path;
  const char* description;
};
constexpr FileDoc kFiles[] = {
    {"~/.aws/credentials",
     "The usual target of --aws-credentials-path. Only the three credential keys of the profile "
     "change; every other byte of the file is kept. It is written to a temporary file beside it, "
     "synced and renamed over it; a new file is mode 0600."},
    {"--token-file PATH",
     "The serve commands' bearer token: 64 hex digits, mode 0600, no newline; a new one at every "
     "start (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE for the SDKs)."},
    {"--config FILE",
     "The daemons' YAML configuration: several exchanges, each with a credentials-file profile, a "
     "path on one local endpoint (the serve block), or both. Its keys are the flags' names "
     "without the dashes (true or false for flags without a value); errors name the file, the "
     "line and the key."},
    {"--cache-dir DIR",
     "The credential_process cache (--cache): <sha256>.json entries, mode 0600, and their lock "
     "files. The next run that writes an entry removes those whose credentials expired more than "
     "an hour ago, with their lock files."},
    {"/etc/default/aws-spiffe-workload-helper",
     "The settings of the systemd unit aws-spiffe-workload-helper.service."},
    {"/var/lib/aws-spiffe-workload-helper/credentials",
     "The credentials file the systemd unit keeps fresh (its only writable path)."},
};

// --- roff -------------------------------------------------------------------------------------

// Text for a roff line: backslashes and hyphens escaped (so that flags are not hyphenated or
// turned into dashes), and a leading '.' or '\'' guarded.
std::string roff(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  if (!out.empty() && (out.front() == '.' || out.front() == '\'')) out.insert(0, "\\&");
  return out;
}

std::string flag_synopsis(const FlagDoc& f) {
  std::string out = "\\fB" + roff(f.name) + "\\fR";
  if (!f.short_name.empty()) out = "\\fB" + roff(f.short_name) + "\\fR, " + out;
  if (!f.value.empty()) out += " \\fI" + roff(f.value) + "\\fR";
  return out;
}

std::string flag_item(const FlagDoc& f) {
  std::string text = f.description;
  if (!text.empty() && text.back() != '.') text += '.';
  if (!f.choices.empty()) {
    std::string list;
    for (const auto& c : f.choices) list += (list.empty() ? "" : ", ") + c;
    text += " One of: " + list + ".";
  }
  if (f.required) text += " Required.";
  if (f.repeatable) text += " May be given more than once.";
  return fmt::format(".TP\n{}\n{}\n", flag_synopsis(f), roff(text));
}

std::vector<const CommandDoc*> listed(const CliDoc& cli) {
  std::vector<const CommandDoc*> out;
  for (const auto& c : cli.commands) {
    if (!c.hidden) out.push_back(&c);
  }
  return out;
}

// --- shells -----------------------------------------------------------------------------------

// 'text' for sh-like shells: a single quote becomes '\''.
std::string sh_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// 'text' for fish: backslash and single quote are escaped inside single quotes.
std::string fish_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

// zsh _arguments: the description in [...] must not hold unescaped brackets or colons.
std::string zsh_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '[' || c == ']' || c == ':' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string function_name(std::string_view program) {
  std::string out = "_";
  for (char c : program) out += (c == '-' ? '_' : c);
  return out;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

std::vector<std::string> flag_words(const std::vector<FlagDoc>& flags) {
  std::vector<std::string> out;
  for (const auto& f : flags) {
    out.push_back(f.name);
    if (!f.short_name.empty()) out.push_back(f.short_name);
  }
  return out;
}

std::vector<std::string> value_flag_words(const CliDoc& cli) {
  std::set<std::string> names;
  for (const auto& f : cli.global_flags) {
    if (!f.value.empty()) names.insert(f.name);
  }
  return {names.begin(), names.end()};
}

// The `case $prev` arms of one command: what follows a flag that takes a value.
std::string bash_value_cases(const std::vector<FlagDoc>& flags, std::string_view indent) {
  std::string out;
  std::vector<std::string> free_values;
  for (const auto& f : flags) {
    if (f.value.empty()) continue;
    if (!f.choices.empty()) {
      out += fmt::format("{}{}) COMPREPLY=($(compgen -W {} -- \"$cur\")); return ;;\n", indent,
                         f.name, sh_quote(join(f.choices)));
    } else if (f.file_value()) {
      out += fmt::format(
          "{}{}) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "
          "\"$cur\")); return ;;\n",
          indent, f.name);
    } else {
      free_values.push_back(f.name);
    }
  }
  if (!free_values.empty()) {
    std::string arm;
    for (const auto& n : free_values) arm += (arm.empty() ? "" : "|") + n;
    out +=
        fmt::format("{}{}) return ;;  # a value of the user's: nothing to suggest\n", indent, arm);
  }
  return out;
}

std::string bash(const CliDoc& cli) {
  const std::string fn = function_name(cli.program);
  std::vector<std::string> commands;
  for (const auto* c : listed(cli)) commands.push_back(c->name);
  std::string skip;
  for (const auto& n : value_flag_words(cli)) skip += (skip.empty() ? "" : "|") + n;

  std::string out = fmt::format(
      "# bash completion for {0}, generated by `{0} completion bash` from its command-line "
      "definition.\n"
      "# Install: {0} completion bash > /usr/share/bash-completion/completions/{0}\n"
      "{1}() {{\n"
      "  local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}} cmd= i\n"
      "  COMPREPLY=()\n"
      "  # The command is the first word that is neither a flag nor a flag's value.\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    case ${{COMP_WORDS[i]}} in\n",
      cli.program, fn);
  if (!skip.empty()) out += fmt::format("      {}) ((i++)) ;;\n", skip);
  out +=
      "      -*) ;;\n"
      "      *) cmd=${COMP_WORDS[i]}; break ;;\n"
      "    esac\n"
      "  done\n"
      "  local words\n"
      "  case $cmd in\n";
  // No command yet: the commands and the flags allowed before one.
  out += "    '')\n      case $prev in\n";
  out += bash_value_cases(cli.global_flags, "        ");
  out += "      esac\n";
  out += fmt::format("      words={} ;;\n",
                     sh_quote(join(commands) + " " + join(flag_words(cli.global_flags))));
  for (const auto* c : listed(cli)) {
    out += fmt::format("    {})\n      case $prev in\n", c->name);
    out += bash_value_cases(c->flags, "        ");
    out += "      esac\n";
    std::vector<std::string> words = flag_words(c->flags);
    for (const auto& a : c->args) {
      for (const auto& choice : a.choices) words.push_back(choice);
      if (a.name == "COMMAND") words.insert(words.end(), commands.begin(), commands.end());
    }
    out += fmt::format("      words={} ;;\n", sh_quote(join(words)));
  }
  out += fmt::format(
      "    *) return ;;\n"
      "  esac\n"
      "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
      "}}\n"
      "complete -F {} {}\n",
      fn, cli.program);
  return out;
}

std::string zsh_flag_spec(const FlagDoc& f) {
  const std::string desc = "[" + zsh_escape(f.description) + "]";
  std::string value;
  if (!f.value.empty()) {
    std::string label;
    for (char c : f.value) label += (c == ':' ? '-' : c);
    if (!f.choices.empty()) {
      value = ":" + label + ":(" + join(f.choices) + ")";
    } else if (f.file_value()) {
      value = ":" + label + ":_files";
    } else {
      value = ":" + label + ": ";
    }
  }
  const std::string repeat = f.repeatable ? "*" : "";
  if (!f.short_name.empty()) {
    return fmt::format("'({0} {1})'{{{0},{1}}}{2}", f.short_name, f.name, sh_quote(desc + value));
  }
  return sh_quote(repeat + f.name + desc + value);
}

std::string zsh(const CliDoc& cli) {
  const std::string fn = function_name(cli.program);
  std::string out = fmt::format(
      "#compdef {0}\n"
      "# zsh completion for {0}, generated by `{0} completion zsh` from its command-line "
      "definition.\n"
      "# Install: {0} completion zsh > \"${{fpath[1]}}/_{0}\"\n"
      "{1}() {{\n"
      "  local curcontext=$curcontext state line ret=1\n"
      "  local -a commands\n"
      "  commands=(\n",
      cli.program, fn);
  for (const auto* c : listed(cli)) {
    out += fmt::format("    {}\n", sh_quote(c->name + ":" + zsh_escape(c->description)));
  }
  out += "  )\n  _arguments -C \\\n";
  for (const auto& f : cli.global_flags) out += "    " + zsh_flag_spec(f) + " \\\n";
  out +=
      "    '1: :->command' \\\n"
      "    '*:: :->args' && ret=0\n"
      "  case $state in\n"
      "    command) _describe -t commands command commands && ret=0 ;;\n"
      "    args)\n"
      "      case $words[1] in\n";
  for (const auto* c : listed(cli)) {
    out += fmt::format("        {})\n          _arguments \\\n", c->name);
    for (const auto& f : c->flags) out += "            " + zsh_flag_spec(f) + " \\\n";
    for (const auto& a : c->args) {
      if (a.name == "COMMAND") {
        out += "            '1: :{_describe -t commands command commands}' \\\n";
      } else if (!a.choices.empty()) {
        out += fmt::format("            '1:{}:({})' \\\n", a.name, join(a.choices));
      }
    }
    out += "            && ret=0 ;;\n";
  }
  out +=
      "      esac ;;\n"
      "  esac\n"
      "  return ret\n"
      "}\n";
  out += fmt::format(
      "if [[ $funcstack[1] == {0} ]]; then\n"
      "  {0} \"$@\"\n"
      "else\n"
      "  compdef {0} {1}\n"
      "fi\n",
      fn, cli.program);
  return out;
}

std::string fish_flag(const CliDoc& cli, const FlagDoc& f, const std::string& condition) {
  std::string out = fmt::format("complete -c {} -n {}", cli.program, fish_quote(condition));
  out += " -l " + f.name.substr(2);
  if (!f.short_name.empty()) out += " -s " + f.short_name.substr(1);
  if (!f.value.empty()) {
    if (!f.choices.empty()) {
      out += " -x -a " + fish_quote(join(f.choices));
    } else if (f.file_value()) {
      out += " -r -F";
    } else {
      out += " -x";
    }
  }
  return out + " -d " + fish_quote(f.description) + "\n";
}

std::string fish(const CliDoc& cli) {
  std::string out = fmt::format(
      "# fish completion for {0}, generated by `{0} completion fish` from its command-line "
      "definition.\n"
      "# Install: {0} completion fish > ~/.config/fish/completions/{0}.fish\n"
      "complete -c {0} -f\n",
      cli.program);
  std::string all;
  for (const auto* c : listed(cli)) all += (all.empty() ? "" : " ") + c->name;
  for (const auto* c : listed(cli)) {
    out += fmt::format("complete -c {} -n __fish_use_subcommand -a {} -d {}\n", cli.program,
                       c->name, fish_quote(c->description));
  }
  for (const auto& f : cli.global_flags) out += fish_flag(cli, f, "__fish_use_subcommand");
  for (const auto* c : listed(cli)) {
    const std::string condition = "__fish_seen_subcommand_from " + c->name;
    for (const auto& f : c->flags) out += fish_flag(cli, f, condition);
    for (const auto& a : c->args) {
      const std::string words = a.name == "COMMAND" ? all : join(a.choices);
      if (!words.empty()) {
        out += fmt::format("complete -c {} -n {} -a {}\n", cli.program, fish_quote(condition),
                           fish_quote(words));
      }
    }
  }
  return out;
}

}  // namespace

std::string man_page(const CliDoc& cli) {
  std::string out;
  const std::string upper = [&] {
    std::string s = cli.program;
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
    return s;
  }();
  out +=
      fmt::format(".\\\" Generated by `{} man` from its command-line definition.\n", cli.program);
  out += fmt::format(".TH {} 1 \"\" \"{} {}\" \"User Commands\"\n", roff(upper), roff(cli.program),
                     roff(cli.version));
  out += ".SH NAME\n" + roff(cli.program) + " \\- " + roff(cli.summary) + "\n";

  out += ".SH SYNOPSIS\n";
  for (const auto* c : listed(cli)) {
    std::string args;
    for (const auto& a : c->args) {
      args += a.required ? " \\fI" + roff(a.name) + "\\fR" : " [\\fI" + roff(a.name) + "\\fR]";
    }
    const bool has_flags = !c->flags.empty();
    out += fmt::format(".B {}\n.B {}\n{}{}\n.br\n", roff(cli.program), roff(c->name),
                       has_flags ? "[\\fIFLAGS\\fR]" : "", args);
  }
  out += fmt::format(".B {}\n.RB [ \\-\\-version | \\-\\-help ]\n", roff(cli.program));

  out += ".SH DESCRIPTION\n";
  out += roff(cli.program) +
         " turns a workload's SPIFFE identity into short\\-lived AWS credentials. It fetches an "
         "X.509\\-SVID from the SPIFFE Workload API (usually a SPIRE agent's unix socket) and "
         "signs an IAM Roles Anywhere CreateSession request with it, or fetches a JWT\\-SVID and "
         "exchanges it with STS AssumeRoleWithWebIdentity.\n"
         ".PP\n"
         "The credentials are printed as the JSON an AWS SDK's \\fBcredential_process\\fR reads "
         "(the \\fB*\\-credential\\-process\\fR commands), written to a profile of an AWS "
         "credentials file (\\fB*\\-credential\\-file\\fR keeps it fresh, "
         "\\fB*\\-credential\\-file\\-oneshot\\fR writes it once), or served on loopback to the "
         "SDKs' container credential provider (\\fB*\\-serve\\fR).\n"
         ".PP\n"
         "Standard output carries only the credentials JSON (process commands) or the two "
         "environment lines the SDKs need (serve commands); logs go to standard error. Secrets "
         "never appear in logs. A flag given twice takes its last value. The logging flags may "
         "also come before the command.\n";

  out += ".SH COMMANDS\n";
  for (const auto* c : listed(cli)) {
    out += fmt::format(".SS {}\n{}\n", roff(c->name), roff(c->description + "."));
    for (const auto& a : c->args) {
      out += fmt::format(".TP\n\\fI{}\\fR\n{}\n", roff(a.name), roff(a.description));
    }
    for (const auto& f : c->flags) out += flag_item(f);
  }
  out += ".SS Flags before the command\n";
  for (const auto& f : cli.global_flags) out += flag_item(f);

  out += ".SH ENVIRONMENT\n";
  for (const auto& e : kEnvironment) {
    out += fmt::format(".TP\n.B {}\n{}\n", roff(e.name), roff(e.description));
  }
  out += ".SH EXIT STATUS\n";
  for (const auto& e : kExitCodes) {
    out += fmt::format(".TP\n.B {}\n{}\n", e.code, roff(e.description));
  }
  out +=
      ".SH SIGNALS\n"
      ".TP\n.BR SIGTERM \", \" SIGINT\n"
      "The daemons stop within a second and exit 0, never in the middle of a write; the serve "
      "commands let the requests in flight finish.\n"
      ".TP\n.B SIGHUP\n"
      "The daemons renew the credentials at once.\n";
  out += ".SH FILES\n";
  for (const auto& f : kFiles) {
    out += fmt::format(".TP\n.I {}\n{}\n", roff(f.path), roff(f.description));
  }
  out += fmt::format(
      ".SH EXAMPLES\n"
      "In \\fI~/.aws/config\\fR:\n"
      ".PP\n.nf\n.RS 4\n"
      "[profile spiffe]\n"
      "credential_process = {0} x509\\-credential\\-process "
      "\\-\\-trust\\-anchor\\-arn ARN \\-\\-profile\\-arn ARN \\-\\-role\\-arn ARN "
      "\\-\\-workload\\-api\\-addr unix:///run/spire/sockets/agent.sock\n"
      ".RE\n.fi\n"
      ".PP\n"
      "Shell completion:\n"
      ".PP\n.nf\n.RS 4\n"
      "{0} completion bash > /usr/share/bash\\-completion/completions/{0}\n"
      ".RE\n.fi\n"
      ".SH SEE ALSO\n"
      ".BR aws (1),\n"
      ".BR systemd.service (5)\n",
      roff(cli.program));
  return out;
}

Result<std::string> completion_script(const CliDoc& cli, std::string_view shell) {
  if (shell == "bash") return bash(cli);
  if (shell == "zsh") return zsh(cli);
  if (shell == "fish") return fish(cli);
  return make_error(
      errc::usage, fmt::format("completion: '{}' is not a shell we know (bash, zsh, fish)", shell));
}

}  // namespace awh::app
