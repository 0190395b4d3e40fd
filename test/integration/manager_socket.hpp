#pragma once
// The service manager's end of sd_notify(3), for the readiness tests.
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace awh::itest {

// The service manager's end: a datagram socket bound to a path or, for a name starting with
// '@', to a Linux abstract address. Written here from unix(7), independently of the client.
class ManagerSocket {
 public:
  explicit ManagerSocket(const std::string& name) : fd_(::socket(AF_UNIX, SOCK_DGRAM, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(name.size() < sizeof(addr.sun_path));
    std::memcpy(addr.sun_path, name.data(), name.size());
    socklen_t length = sizeof(sa_family_t) + name.size();
    if (name.front() == '@') {
      addr.sun_path[0] = '\0';  // abstract: the name is the bytes after the NUL, no terminator
    } else {
      length += 1;
    }
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), length) == 0);
  }
  ~ManagerSocket() { ::close(fd_); }
  ManagerSocket(const ManagerSocket&) = delete;
  ManagerSocket& operator=(const ManagerSocket&) = delete;

  // The next datagram, or nullopt after `timeout`.
  std::optional<std::string> receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buffer[4096];
    const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<std::size_t>(n));
  }
  // Waits for a datagram containing `line` (as one of its lines); the others go to `seen`.
  bool wait_for(const std::string& line, std::chrono::milliseconds timeout,
                std::vector<std::string>& seen) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto message = receive(std::chrono::milliseconds(50));
      if (!message) continue;
      seen.push_back(*message);
      if (("\n" + *message + "\n").find("\n" + line + "\n") != std::string::npos) return true;
    }
    return false;
  }

 private:
  int fd_;
};

}  // namespace awh::itest
