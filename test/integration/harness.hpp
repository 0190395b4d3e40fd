#pragma once
// Helpers for end-to-end tests: temporary directories, child processes with captured output
// and bounded waits, the Python Roles Anywhere stand-in, and running the built binary.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace awh::itest {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& contents);
std::string read_file(const std::string& path);

struct RunResult {
  int exit_code = -1;  // -1: killed after the timeout
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{0};
};

// Runs `argv` to completion with `env` added to (or, with a value of "\x01", removed from) this
// process's environment; kills it after `timeout`.
RunResult run(const std::vector<std::string>& argv,
              const std::map<std::string, std::string>& env = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A running child whose stdout is readable line by line.
class Child {
 public:
  // stderr goes to `stderr_path` (appended) when given, else it is inherited.
  Child(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
        const std::string& stderr_path = {});
  ~Child();  // SIGTERM, then SIGKILL after 3 s
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  // Next stdout line, or nullopt on EOF/timeout.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // Sends SIGTERM and waits (bounded); returns the exit code (-1 if it had to be killed).
  int stop();
  void signal(int sig);
  // Waits for the child to exit on its own; its exit code, or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
  bool exited_ = false;
  int status_ = 0;
};

struct StandInOptions {
  std::vector<std::string> extra;  // e.g. {"--mode", "deny"} or {"--fail", "500,503"}
  bool plain_http = false;
};

// A Python peer from test/peers/ that prints "PORT <n>" once listening, records one JSON line
// per request (--record), logs to a file (--log) and takes commands on SIGUSR1 (--control).
class PythonPeer {
 public:
  // One JSON object (as text) per request received so far.
  std::vector<std::string> records() const;
  // The next valid requests fail with these statuses, e.g. "503,503,503" (a brief outage).
  void fail_next(const std::string& statuses);
  std::string log() const;  // what the peer logged so far
  int port() const { return port_; }

 protected:
  // `args` gets the peer's own directory and returns the script's further arguments.
  PythonPeer(const std::string& script,
             const std::function<std::vector<std::string>(const TempDir&)>& args);
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<Child> child_;
};

// The Roles Anywhere stand-in (test/peers/rolesanywhere_standin.py), verifying requests
// independently of our signing code against `trust_anchor_pem`.
class StandIn : public PythonPeer {
 public:
  StandIn(const std::string& trust_anchor_pem, StandInOptions options = {});
  std::string endpoint() const;  // https://localhost:<port> (or http://127.0.0.1:<port>)
  std::string ca_pem_path() const { return dir().file("tls/ca.pem"); }

 private:
  bool plain_ = false;
};

// The STS AssumeRoleWithWebIdentity stand-in (test/peers/sts_standin.py), plain HTTP on loopback.
class StsStandIn : public PythonPeer {
 public:
  explicit StsStandIn(std::vector<std::string> extra = {});
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port()); }
};

std::string binary_path();
std::string source_root();

}  // namespace awh::itest
