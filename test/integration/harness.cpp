#include "harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace awh::itest {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> make_env(const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : overrides) {
    if (v == "\x01") {
      env.erase(k);
    } else {
      env[k] = v;
    }
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

// Spawns argv with stdout and stderr on pipes (stderr may be /dev/null when err_fd is null).
pid_t spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
            int* out_fd, int* err_fd, const std::string& err_path = {}) {
  int out_pipe[2];
  int err_pipe[2] = {-1, -1};
  if (pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  if (err_fd != nullptr && pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  if (err_fd != nullptr) {
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  } else if (!err_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0600);
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const auto env_strings = make_env(env);
  std::vector<char*> envp;
  for (const auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  if (err_fd != nullptr) close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    if (err_fd != nullptr) close(err_pipe[0]);
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  *out_fd = out_pipe[0];
  if (err_fd != nullptr) *err_fd = err_pipe[0];
  return pid;
}

bool wait_exit(pid_t pid, int* status, Clock::time_point deadline) {
  while (true) {
    const pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "awh-itest-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;  // best effort: a leftover temp dir is not a test failure
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RunResult run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
              std::chrono::milliseconds timeout) {
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  int out_fd = -1;
  int err_fd = -1;
  const pid_t pid = spawn(argv, env, &out_fd, &err_fd);
  RunResult result;
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_fds = 2;
  bool killed = false;
  while (open_fds > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 && !killed) {
      kill(pid, SIGKILL);
      killed = true;
    }
    if (poll(fds, 2, killed ? 1000 : static_cast<int>(std::min<long>(left.count(), 1000))) < 0)
      break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  int status = 0;
  if (!wait_exit(pid, &status, Clock::now() + std::chrono::seconds(5))) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    killed = true;
  }
  result.exit_code = killed ? -1 : exit_code_of(status);
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return result;
}

Child::Child(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
             const std::string& stderr_path) {
  pid_ = spawn(argv, env, &out_fd_, nullptr, stderr_path);
}

void Child::signal(int sig) {
  if (!exited_ && pid_ > 0) kill(pid_, sig);
}

std::optional<int> Child::wait(std::chrono::milliseconds timeout) {
  if (!exited_) {
    if (!wait_exit(pid_, &status_, Clock::now() + timeout)) return std::nullopt;
    exited_ = true;
  }
  return exit_code_of(status_);
}

Child::~Child() {
  stop();
  if (out_fd_ >= 0) close(out_fd_);
}

std::optional<std::string> Child::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd fd{out_fd_, POLLIN, 0};
    if (poll(&fd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[1024];
    const ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n <= 0) return std::nullopt;
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

int Child::stop() {
  if (exited_ || pid_ < 0) return exit_code_of(status_);
  kill(pid_, SIGTERM);
  if (!wait_exit(pid_, &status_, Clock::now() + std::chrono::seconds(3))) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
    exited_ = true;
    return -1;
  }
  exited_ = true;
  return exit_code_of(status_);
}

PythonPeer::PythonPeer(const std::string& script,
                       const std::function<std::vector<std::string>(const TempDir&)>& args) {
  std::vector<std::string> argv{"python3",   source_root() + "/test/peers/" + script,
                                "--record",  dir_.file("requests.jsonl"),
                                "--log",     dir_.file("peer.log"),
                                "--control", dir_.file("control")};
  const auto extra = args(dir_);
  argv.insert(argv.end(), extra.begin(), extra.end());
  child_ = std::make_unique<Child>(argv);
  auto line = child_->read_line(std::chrono::seconds(20));
  if (!line || line->rfind("PORT ", 0) != 0) throw std::runtime_error(script + " did not start");
  port_ = std::stoi(line->substr(5));
}

void PythonPeer::fail_next(const std::string& statuses) {
  write_file(dir_.file("control"), "fail " + statuses + "\n");
  child_->signal(SIGUSR1);
}

std::string PythonPeer::log() const { return read_file(dir_.file("peer.log")); }

std::vector<std::string> PythonPeer::records() const {
  // Whole lines only: the peer may be half-way through writing the last one.
  const std::string text = read_file(dir_.file("requests.jsonl"));
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (nl > start) out.push_back(text.substr(start, nl - start));
  }
  return out;
}

StandIn::StandIn(const std::string& trust_anchor_pem, StandInOptions options)
    : PythonPeer("rolesanywhere_standin.py",
                 [&](const TempDir& dir) {
                   write_file(dir.file("anchor.pem"), trust_anchor_pem);
                   std::vector<std::string> args{"--trust-anchor", dir.file("anchor.pem"),
                                                 "--tls-dir", dir.file("tls")};
                   if (options.plain_http) args.push_back("--plain-http");
                   args.insert(args.end(), options.extra.begin(), options.extra.end());
                   return args;
                 }),
      plain_(options.plain_http) {}

std::string StandIn::endpoint() const {
  return plain_ ? "http://127.0.0.1:" + std::to_string(port())
                : "https://localhost:" + std::to_string(port());
}

StsStandIn::StsStandIn(std::vector<std::string> extra)
    : PythonPeer("sts_standin.py", [&](const TempDir&) { return extra; }) {}

std::string binary_path() { return AWH_BINARY; }
std::string source_root() { return AWH_SOURCE_ROOT; }

}  // namespace awh::itest
