// A DNS that never answers, for real: the binary runs in its own mount and network namespaces
// (unshare, as root), where /etc/resolv.conf names a local server that swallows every query, so
// getaddrinfo blocks for minutes. The lookup must not hold the run: a one-shot run fails at
// --timeout with the real reason, the daemon's exchange fails at --timeout and is retried, and
// SIGTERM ends the daemon at once while a lookup hangs.
#include <signal.h>

#include <filesystem>

#include "fixture.hpp"

using namespace awh::itest;
using namespace std::chrono;
using Clock = std::chrono::steady_clock;

namespace {

// Why the namespaces can't be had here, or nullopt when they can.
std::optional<std::string> namespaces_unavailable() {
  const auto r = run(
      {"unshare", "-mn", "sh", "-c", "ip link set lo up && mount --bind /dev/null /etc/hostname"},
      {}, seconds(10));
  if (r.exit_code != 0) return "unshare -mn (root with CAP_SYS_ADMIN) is not available: " + r.err;
  return std::nullopt;
}

// `argv` run where DNS never answers. The swallowing server lives in the namespace and ends by
// itself after a minute.
std::vector<std::string> with_hanging_dns(const TempDir& dir, std::vector<std::string> argv) {
  write_file(dir.file("resolv.conf"), "nameserver 127.0.0.1\noptions timeout:30 attempts:3\n");
  write_file(dir.file("swallow.py"),
             "import socket, time\n"
             "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
             "s.bind(('127.0.0.1', 53))\n"
             "end = time.time() + 60\n"
             "while time.time() < end:\n"
             "    s.settimeout(1)\n"
             "    try: s.recvfrom(4096)\n"
             "    except OSError: pass\n");
  std::vector<std::string> out{
      "unshare",
      "-mn",
      "sh",
      "-c",
      "ip link set lo up && mount --bind \"$0\" /etc/resolv.conf && "
      "{ python3 \"$1\" </dev/null >/dev/null 2>&1 & } && sleep 0.3 && shift && exec \"$@\"",
      dir.file("resolv.conf"),
      dir.file("swallow.py")};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::vector<std::string> hanging_args(const Fixture& f, const std::string& command,
                                      std::vector<std::string> extra) {
  std::vector<std::string> a{binary_path(),         command,
                             "--trust-anchor-arn",  kTrustAnchorArn,
                             "--profile-arn",       kProfileArn,
                             "--role-arn",          kRoleArn,
                             "--workload-api-addr", "unix://" + f.dir.file("agent.sock"),
                             "--endpoint",          "https://rolesanywhere.dns-never-answers.test",
                             "--timeout",           "2"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

}  // namespace

TEST_CASE(
    "a DNS lookup that never answers is bounded by --timeout, and SIGTERM still ends the daemon at "
    "once") {
  if (auto why = namespaces_unavailable()) {
    MESSAGE("skipped: " << *why);
    return;
  }
  Fixture f;
  f.serve();

  SUBCASE("one-shot: exit 1 at --timeout, naming the lookup (not the watchdog)") {
    const auto r = run(with_hanging_dns(f.dir, hanging_args(f, "x509-credential-process", {})), {},
                       seconds(30));
    CAPTURE(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK(r.err.find("resolving rolesanywhere.dns-never-answers.test timed out") !=
          std::string::npos);
    CHECK(r.err.find("exceeded --timeout") == std::string::npos);  // the step ended itself
    CHECK(r.elapsed < seconds(4) + milliseconds(300));             // 2 s plus the namespace set-up
  }

  SUBCASE(
      "daemon: each exchange fails at --timeout and is retried; SIGTERM mid-lookup exits 0 at "
      "once") {
    const std::string path = f.dir.file("credentials");
    const std::string log_path = f.dir.file("daemon.log");
    Child daemon(with_hanging_dns(f.dir, hanging_args(f, "x509-credential-file",
                                                      {"--aws-credentials-path", path})),
                 {}, log_path);
    auto log = [&] {
      return std::filesystem::exists(log_path) ? read_file(log_path) : std::string();
    };
    REQUIRE_MESSAGE(
        eventually([&] { return log().find("renewal failed (1 in a row)") != std::string::npos; },
                   seconds(15)),
        log());
    CHECK(log().find("timed out") != std::string::npos);
    // The next attempt starts within the backoff (1 s at most) and hangs in its lookup again.
    std::this_thread::sleep_for(milliseconds(1500));
    CHECK(log().find("renewal failed (2 in a row)") == std::string::npos);
    const auto signalled = Clock::now();
    daemon.signal(SIGTERM);
    const auto code = daemon.wait(seconds(10));
    const auto took = Clock::now() - signalled;
    CAPTURE(log());
    CHECK(code == 0);
    MESSAGE("SIGTERM to exit during a hanging lookup: " << duration_cast<milliseconds>(took).count()
                                                        << " ms");
    CHECK(took < milliseconds(1500));  // "under a second", with room for a loaded machine
    CHECK_FALSE(std::filesystem::exists(path));
  }
}
