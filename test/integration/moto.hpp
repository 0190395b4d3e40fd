#pragma once
// moto_server (a real STS implementation we did not write) on a free loopback port, and small
// loopback helpers for the end-to-end tests.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "harness.hpp"

namespace awh::itest {

using std::chrono::milliseconds;
using std::chrono::seconds;

inline int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

inline bool accepts_connections(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

// moto_server on a free loopback port.
class Moto {
 public:
  // `env`, e.g. {{"INITIAL_NO_AUTH_ACTION_COUNT", "1"}}: after the first request, moto checks
  // every request's SigV4 signature against the credentials it issued.
  explicit Moto(const TempDir& dir, const std::map<std::string, std::string>& env = {})
      : port_(free_port()),
        child_({"moto_server", "-H", "127.0.0.1", "-p", std::to_string(port_)}, env,
               dir.file("moto.log")) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    while (!accepts_connections(port_)) {
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "moto_server did not start");
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int port_;
  Child child_;
};

// A botocore script: resolve credentials (checking which provider gave them: `method`, e.g.
// "container-role"), then print the ARN STS GetCallerIdentity (argv[1], moto) returns for them.
inline std::string botocore_caller_script(const std::string& method,
                                          const std::string& profile = {}) {
  return "import sys, botocore.session\n"
         "s = botocore.session.Session(" +
         (profile.empty() ? std::string() : "profile='" + profile + "'") +
         ")\n"
         "c = s.get_credentials()\n"
         "assert c.method == '" +
         method +
         "', c.method\n"
         "sts = s.create_client('sts', endpoint_url=sys.argv[1])\n"
         "print(sts.get_caller_identity()['Arn'])\n";
}

// An environment with no other credential source, so an SDK must use the one `extra` names
// (the container provider's AWS_CONTAINER_* variables, ...).
inline std::map<std::string, std::string> sdk_env(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env{
      {"AWS_CONFIG_FILE", "/dev/null"},      {"AWS_SHARED_CREDENTIALS_FILE", "/dev/null"},
      {"AWS_ACCESS_KEY_ID", "\x01"},         {"AWS_SECRET_ACCESS_KEY", "\x01"},
      {"AWS_SESSION_TOKEN", "\x01"},         {"AWS_PROFILE", "\x01"},
      {"AWS_EC2_METADATA_DISABLED", "true"}, {"AWS_DEFAULT_REGION", "us-east-1"}};
  for (const auto& [k, v] : extra) env[k] = v;
  return env;
}

// The NAME=value lines a serving daemon prints on stdout, `count` of them, in order ({} if they
// don't come within 30 s).
inline std::vector<std::pair<std::string, std::string>> read_env_lines(Child& child, int count) {
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < count; ++i) {
    auto line = child.read_line(std::chrono::seconds(30));
    if (!line) return {};
    const auto eq = line->find('=');
    if (eq == std::string::npos) return {};
    out.emplace_back(line->substr(0, eq), line->substr(eq + 1));
  }
  return out;
}

// One HTTP/1.1 GET on 127.0.0.1:`port` (Connection: close), with extra header lines.
struct HttpAnswer {
  int status = 0;  // 0: no answer
  std::string headers;
  std::string body;
};
inline HttpAnswer http_get(int port, const std::string& path, const std::string& extra_headers = {},
                           const std::string& host = "127.0.0.1") {
  HttpAnswer answer;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return answer;
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return answer;
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" +
                              extra_headers + "Connection: close\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return answer;
  }
  std::string raw;
  char buf[4096];
  ssize_t n = 0;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) raw.append(buf, static_cast<std::size_t>(n));
  close(fd);
  const auto end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return answer;
  answer.status = std::stoi(raw.substr(9, 3));
  answer.headers = raw.substr(0, end);
  answer.body = raw.substr(end + 4);
  return answer;
}

}  // namespace awh::itest
