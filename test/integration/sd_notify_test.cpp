// systemd readiness (Type=notify) end to end: the daemons talk to a real unix datagram socket
// standing in for the service manager's $NOTIFY_SOCKET (sd_notify(3)). READY=1 must come only
// once the credentials file holds credentials (file daemon) or the listener serves them (serve);
// STOPPING=1 on SIGTERM; WATCHDOG=1 only when $WATCHDOG_USEC asks for it.
#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <regex>

#include "fixture.hpp"
#include "manager_socket.hpp"
#include "moto.hpp"

using namespace awh;
using namespace awh::itest;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("file daemon: READY=1 only after the first credentials are written; WATCHDOG, STOPPING") {
  Fixture f;
  f.serve();
  // The first exchanges fail (a Roles Anywhere outage at start): no READY=1 meanwhile.
  StandIn standin(f.pki.root_pem(), {{"--fail", "503,503,503,503,503"}});
  const std::string path = f.dir.file("aws/credentials");
  const std::string socket_path = f.dir.file("notify.sock");
  ManagerSocket manager(socket_path);

  Child daemon(f.args(standin, {"--aws-credentials-path", path}, "x509-credential-file"),
               {{"NOTIFY_SOCKET", socket_path}, {"WATCHDOG_USEC", "200000"}},
               f.dir.file("daemon.log"));
  std::vector<std::string> seen;
  bool ready = false;
  bool written_before_ready = false;
  const auto deadline = std::chrono::steady_clock::now() + seconds(40);
  while (!ready && std::chrono::steady_clock::now() < deadline) {
    auto message = manager.receive(milliseconds(20));
    if (!message) continue;
    seen.push_back(*message);
    if (message->rfind("READY=1", 0) == 0) {
      ready = true;
      // Five failed exchanges (seconds of retries) come first: a READY=1 sent before the write
      // would find no file here.
      written_before_ready = std::filesystem::exists(path);
    }
  }
  CAPTURE(seen);
  CAPTURE(read_file(f.dir.file("daemon.log")));
  REQUIRE(ready);
  CHECK(written_before_ready);
  // Every failure happened before READY=1, and the file it announces holds credentials.
  std::size_t failures = 0;
  for (const auto& record : standin.records()) {
    if (parse_object(record).at("status").as_int64() >= 500) ++failures;
  }
  CHECK(failures == 5);
  CHECK(read_file(path).find("aws_session_token = ") != std::string::npos);
  // WATCHDOG_USEC=200000: a WATCHDOG=1 about every 100 ms.
  std::vector<std::string> later;
  CHECK(manager.wait_for("WATCHDOG=1", seconds(2), later));
  daemon.signal(SIGTERM);
  CHECK(manager.wait_for("STOPPING=1", seconds(3), later));
  CHECK(daemon.wait(seconds(5)) == 0);
}

TEST_CASE("serve: READY=1 once the credentials are served, to an abstract socket; no watchdog") {
  // Also: serve's --health-addr, the probe listener (Kubernetes), answers /readyz and never
  // serves credentials.
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());
  const std::string name = "@awh-notify-" + std::to_string(::getpid());
  ManagerSocket manager(name);
  Child daemon(f.args(standin,
                      {"--token-file", f.dir.file("token"), "--bind", "127.0.0.1:0",
                       "--health-addr", "127.0.0.1:0"},
                      "x509-serve"),
               {{"NOTIFY_SOCKET", name}}, f.dir.file("serve.log"));
  std::vector<std::string> seen;
  REQUIRE_MESSAGE(manager.wait_for("READY=1", seconds(20), seen),
                  read_file(f.dir.file("serve.log")));
  // By then the endpoint lines are out (the listener is open).
  const auto line = daemon.read_line(milliseconds(500));
  REQUIRE(line.has_value());
  CHECK(line->rfind("AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:", 0) == 0);
  std::smatch m;
  const std::string log = read_file(f.dir.file("serve.log"));
  REQUIRE_MESSAGE(
      std::regex_search(log, m, std::regex(R"(health endpoints on http://127\.0\.0\.1:([0-9]+))")),
      log);
  const int health_port = std::stoi(m[1]);
  CHECK(http_get(health_port, "/readyz").status == 200);
  CHECK(http_get(health_port, "/v1/credentials",
                 "Authorization: " + read_file(f.dir.file("token")) + "\r\n")
            .status == 404);
  // Without WATCHDOG_USEC nothing else is sent until the stop.
  CHECK_FALSE(manager.receive(milliseconds(500)).has_value());
  daemon.signal(SIGTERM);
  CHECK(manager.wait_for("STOPPING=1", seconds(3), seen));
  CHECK(daemon.wait(seconds(5)) == 0);
  CHECK(seen.front().rfind("READY=1", 0) == 0);
}
