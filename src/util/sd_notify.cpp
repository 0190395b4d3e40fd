#include "util/sd_notify.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "util/log.hpp"
#include "util/strings.hpp"

namespace awh::util {

Result<NotifyAddress> parse_notify_socket(std::string_view value) {
  NotifyAddress out;
  out.address.sun_family = AF_UNIX;
  if (value.empty()) return make_error(errc::invalid_input, "NOTIFY_SOCKET is empty");
  if (value.front() != '/' && value.front() != '@') {
    return make_error(errc::invalid_input,
                      fmt::format("NOTIFY_SOCKET '{}' is neither an absolute path nor an "
                                  "'@' abstract socket name",
                                  value));
  }
  // A path needs its terminating NUL inside sun_path; an abstract name does not have one.
  const bool abstract = value.front() == '@';
  if (value.size() + (abstract ? 0 : 1) > sizeof(out.address.sun_path) || value.size() < 2) {
    return make_error(errc::invalid_input,
                      fmt::format("NOTIFY_SOCKET '{}' is not a usable socket address", value));
  }
  std::memcpy(out.address.sun_path, value.data(), value.size());
  if (abstract) out.address.sun_path[0] = '\0';
  out.length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + value.size() + (abstract ? 0 : 1));
  return out;
}

std::optional<std::chrono::microseconds> parse_watchdog(std::optional<std::string_view> usec,
                                                        std::optional<std::string_view> pid,
                                                        pid_t self) {
  if (!usec || usec->empty() || usec->size() > 18 || !all_digits(*usec)) return std::nullopt;
  if (pid) {
    if (pid->empty() || pid->size() > 9 || !all_digits(*pid)) return std::nullopt;
    if (std::stol(std::string(*pid)) != static_cast<long>(self)) return std::nullopt;
  }
  const long long value = std::stoll(std::string(*usec));
  if (value <= 0) return std::nullopt;
  return std::chrono::microseconds(value);
}

Notifier Notifier::from_environment() {
  Notifier n;
  const char* socket = std::getenv("NOTIFY_SOCKET");
  if (socket == nullptr) return n;
  auto address = parse_notify_socket(socket);
  if (!address) {
    log::warn("{}; not notifying the service manager", address.error().message);
    return n;
  }
  n.address_ = *address;
  const auto env = [](const char* name) -> std::optional<std::string_view> {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string_view>(v) : std::nullopt;
  };
  if (auto interval = parse_watchdog(env("WATCHDOG_USEC"), env("WATCHDOG_PID"), ::getpid())) {
    n.watchdog_period_ = *interval / 2;
  }
  return n;
}

void Notifier::send(std::string_view state) const {
  if (!address_) return;
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    log::debug("sd_notify: socket(): {}", std::strerror(errno));
    return;
  }
  const auto sent =
      ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&address_->address), address_->length);
  if (sent < 0) log::debug("sd_notify: sending {}: {}", state, std::strerror(errno));
  ::close(fd);
}

}  // namespace awh::util
