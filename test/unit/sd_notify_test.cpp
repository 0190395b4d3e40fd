#include "util/sd_notify.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <string>

using namespace awh;
using std::chrono::microseconds;

TEST_CASE("NOTIFY_SOCKET: a path keeps its NUL, an '@' name becomes an abstract address") {
  const auto path = util::parse_notify_socket("/run/systemd/notify");
  REQUIRE(path.has_value());
  CHECK(path->address.sun_family == AF_UNIX);
  CHECK(std::string(path->address.sun_path) == "/run/systemd/notify");
  CHECK(path->length == offsetof(sockaddr_un, sun_path) + 19 + 1);

  const auto abstract = util::parse_notify_socket("@/org/freedesktop/systemd1/notify/42");
  REQUIRE(abstract.has_value());
  CHECK(abstract->address.sun_path[0] == '\0');
  CHECK(std::string(abstract->address.sun_path + 1, 35) == "/org/freedesktop/systemd1/notify/42");
  // No terminating NUL counted: the name is exactly the bytes after the leading NUL.
  CHECK(abstract->length == offsetof(sockaddr_un, sun_path) + 36);
}

TEST_CASE("NOTIFY_SOCKET: what can't be used is an error") {
  for (const char* bad : {"", "relative/notify", "vsock:2:1234", "@"}) {
    CAPTURE(bad);
    const auto r = util::parse_notify_socket(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().cls == errc::invalid_input);
    CHECK(r.error().message.find("NOTIFY_SOCKET") != std::string::npos);
  }
  // sun_path holds 108 bytes: a path of 107 plus its NUL fits, 108 doesn't; an abstract name
  // of 108 bytes ('@' included) fits.
  CHECK(util::parse_notify_socket("/" + std::string(106, 'a')).has_value());
  CHECK_FALSE(util::parse_notify_socket("/" + std::string(107, 'a')).has_value());
  CHECK(util::parse_notify_socket("@" + std::string(107, 'a')).has_value());
  CHECK_FALSE(util::parse_notify_socket("@" + std::string(108, 'a')).has_value());
}

TEST_CASE("WATCHDOG_USEC/WATCHDOG_PID: the interval, only for this process") {
  CHECK(util::parse_watchdog("30000000", std::nullopt, 7) == microseconds(30000000));
  CHECK(util::parse_watchdog("30000000", "7", 7) == microseconds(30000000));
  CHECK_FALSE(util::parse_watchdog("30000000", "8", 7).has_value());  // for another process
  CHECK_FALSE(util::parse_watchdog(std::nullopt, "7", 7).has_value());
  for (const char* bad : {"", "0", "-5", "1e6", "30s", "9999999999999999999"}) {
    CAPTURE(bad);
    CHECK_FALSE(util::parse_watchdog(bad, std::nullopt, 7).has_value());
  }
  CHECK_FALSE(util::parse_watchdog("1000", "x", 7).has_value());
}

TEST_CASE("a disabled notifier sends nothing and has no watchdog") {
  const util::Notifier n;
  CHECK_FALSE(n.enabled());
  CHECK_FALSE(n.watchdog_period().has_value());
  n.send("READY=1");  // no socket, no effect
}
