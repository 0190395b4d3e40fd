#pragma once
// systemd's service notification protocol, without libsystemd (sd_notify(3), "NOTIFY_SOCKET";
// systemd.service(5), Type=notify and WatchdogSec=). The service manager passes a datagram
// socket address in $NOTIFY_SOCKET: an absolute path, or '@' + the name of a Linux abstract
// socket. Each state change is one datagram of newline-separated VAR=VALUE assignments, e.g.
// "READY=1", "STOPPING=1", "WATCHDOG=1". Sending is best effort: a service manager that is gone
// must not stop the service.
//
// parse_* are pure. Notifier::send does one sendto() on a fresh socket; any thread.

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace awh::util {

struct NotifyAddress {
  sockaddr_un address{};
  socklen_t length = 0;  // exact: an abstract name has no trailing NUL
};

// $NOTIFY_SOCKET: "/abs/path" or "@abstract". Errors (errc::invalid_input): empty, relative,
// too long for sun_path, or another family (systemd 253+ also knows "vsock:", which we don't).
Result<NotifyAddress> parse_notify_socket(std::string_view value);

// $WATCHDOG_USEC and $WATCHDOG_PID: the interval in which the service must send WATCHDOG=1, or
// nullopt when the watchdog is off, meant for another process (WATCHDOG_PID is not `self`), or
// the values don't parse.
std::optional<std::chrono::microseconds> parse_watchdog(std::optional<std::string_view> usec,
                                                        std::optional<std::string_view> pid,
                                                        pid_t self);

class Notifier {
 public:
  Notifier() = default;  // disabled: send() does nothing
  explicit Notifier(NotifyAddress address) : address_(address) {}

  // From $NOTIFY_SOCKET (disabled when unset; a warning when it can't be used) and
  // $WATCHDOG_USEC/$WATCHDOG_PID.
  static Notifier from_environment();

  bool enabled() const { return address_.has_value(); }
  // Sends `state` ("READY=1") as one datagram; a failure is logged at debug level, never fatal.
  void send(std::string_view state) const;
  // How often to send WATCHDOG=1: half the manager's interval (sd_watchdog_enabled(3)
  // recommends that), or nullopt.
  std::optional<std::chrono::microseconds> watchdog_period() const { return watchdog_period_; }

 private:
  std::optional<NotifyAddress> address_;
  std::optional<std::chrono::microseconds> watchdog_period_;
};

}  // namespace awh::util
