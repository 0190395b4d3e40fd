// Network reach, end to end: a real HTTPS proxy (Debian's tinyproxy) with and without Basic
// authentication, NO_PROXY, a proxy that hangs, the FIPS endpoint with the plain region in the
// signing scope, a Workload API that is never proxied, and IPv6 on loopback.
// The proxy's own log proves a request went through it. Where a name must resolve only for the
// proxy, the proxy runs in a mount namespace of its own with its own /etc/hosts (unshare -m, as
// root); those cases say "skipped" when that can't be had.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "fixture.hpp"
#include "moto.hpp"

using namespace awh::itest;
using namespace std::chrono;

namespace {

std::optional<std::string> tinyproxy_unavailable() {
  const auto r = run({"sh", "-c", "command -v tinyproxy"}, {}, seconds(5));
  if (r.exit_code != 0) return "tinyproxy is not installed (scripts/install-deps installs it)";
  return std::nullopt;
}

std::optional<std::string> mount_namespace_unavailable() {
  const auto r =
      run({"unshare", "-m", "sh", "-c", "mount --bind /dev/null /etc/hostname"}, {}, seconds(10));
  if (r.exit_code != 0) return "unshare -m (root with CAP_SYS_ADMIN) is not available: " + r.err;
  return std::nullopt;
}

// tinyproxy on a free loopback port, in the foreground, logging every request to a file. With
// `hosts`, it runs with that text as its /etc/hosts (names only the proxy can resolve).
class Tinyproxy {
 public:
  explicit Tinyproxy(std::string basic_auth = {}, std::optional<std::string> hosts = {})
      : port_(free_port()) {
    write_file(dir_.file("tinyproxy.conf"),
               "Port " + std::to_string(port_) +
                   "\nListen 127.0.0.1\nTimeout 30\nLogLevel Connect\nMaxClients 100\n"
                   "LogFile \"" +
                   dir_.file("tinyproxy.log") + "\"\n" +
                   (basic_auth.empty() ? "" : "BasicAuth " + basic_auth + "\n"));
    std::vector<std::string> argv{"tinyproxy", "-d", "-c", dir_.file("tinyproxy.conf")};
    if (hosts) {
      write_file(dir_.file("hosts"), *hosts);
      argv = {"unshare",
              "-m",
              "sh",
              "-c",
              "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
              dir_.file("hosts"),
              "tinyproxy",
              "-d",
              "-c",
              dir_.file("tinyproxy.conf")};
    }
    child_ = std::make_unique<Child>(argv, std::map<std::string, std::string>{},
                                     dir_.file("stderr.log"));
    REQUIRE_MESSAGE(eventually([&] { return accepts_connections(port_); }, seconds(10)),
                    "tinyproxy did not start: " << read_file(dir_.file("stderr.log")));
  }
  std::string url(const std::string& userinfo = {}) const {
    return "http://" + (userinfo.empty() ? "" : userinfo + "@") +
           "127.0.0.1:" + std::to_string(port_);
  }
  std::string log() const {
    return std::filesystem::exists(dir_.file("tinyproxy.log"))
               ? read_file(dir_.file("tinyproxy.log"))
               : std::string();
  }
  int port() const { return port_; }

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Child> child_;
};

// A listening socket that never answers: connections complete (the kernel queues them) but
// nothing is ever read or written. Counts what it was sent to, for "never proxied" checks.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(fd_, 64) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() {
    for (int c : accepted_) close(c);
    close(fd_);
  }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  // Connections made to it so far.
  int connections() {
    for (;;) {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) break;
      accepted_.push_back(c);
    }
    return static_cast<int>(accepted_.size());
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::vector<int> accepted_;
};

// botocore runs `command` as a credential_process (with `env` added), then calls STS
// GetCallerIdentity on moto with what it got: the ARN moto answered, or "" on failure.
std::string botocore_caller(const Fixture& f, const std::vector<std::string>& command,
                            std::map<std::string, std::string> env = {}) {
  Moto moto(f.dir);
  write_file(f.dir.file("config"), "[profile it]\ncredential_process = " + command_line(command) +
                                       "\nregion = us-east-1\n");
  write_file(f.dir.file("caller.py"), botocore_caller_script("custom-process", "it"));
  env.insert({{"AWS_CONFIG_FILE", f.dir.file("config")},
              {"AWS_SHARED_CREDENTIALS_FILE", f.dir.file("none")},
              {"AWS_ACCESS_KEY_ID", "\x01"},
              {"AWS_SECRET_ACCESS_KEY", "\x01"},
              {"AWS_SESSION_TOKEN", "\x01"},
              {"AWS_PROFILE", "\x01"}});
  auto r = run({"python3", f.dir.file("caller.py"), moto.endpoint()}, env, seconds(60));
  CAPTURE(r.err);
  if (r.exit_code != 0) return {};
  return r.out;
}

// The environment of a run with no proxy settings but `extra`.
std::map<std::string, std::string> proxy_env(std::map<std::string, std::string> extra) {
  std::map<std::string, std::string> env{{"HTTPS_PROXY", "\x01"}, {"https_proxy", "\x01"},
                                         {"HTTP_PROXY", "\x01"},  {"http_proxy", "\x01"},
                                         {"NO_PROXY", "\x01"},    {"no_proxy", "\x01"},
                                         {"grpc_proxy", "\x01"}};
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

}  // namespace

TEST_CASE(
    "through a real proxy (HTTPS_PROXY, no authentication), botocore gets working "
    "credentials and the proxy logged the tunnel") {
  if (auto why = tinyproxy_unavailable()) {
    MESSAGE("skipped: " << *why);
    return;
  }
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());
  Tinyproxy proxy;
  const auto arn = botocore_caller(f, f.args(standin), proxy_env({{"HTTPS_PROXY", proxy.url()}}));
  CHECK(arn.find("arn:aws:sts::") == 0);
  CHECK(standin.records().size() == 1);
  CAPTURE(proxy.log());
  CHECK(proxy.log().find("CONNECT localhost:" + std::to_string(standin.port())) !=
        std::string::npos);
}

TEST_CASE(
    "a proxy with Basic authentication: --proxy with the password works; a wrong one is "
    "one clear error that never shows the password") {
  if (auto why = tinyproxy_unavailable()) {
    MESSAGE("skipped: " << *why);
    return;
  }
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());
  Tinyproxy proxy("alice s3cr3t-Pa55");

  SUBCASE("the right password: botocore gets working credentials") {
    auto args = f.args(standin, {"--proxy", proxy.url("alice:s3cr3t-Pa55")});
    const auto arn = botocore_caller(f, args, proxy_env({}));
    CHECK(arn.find("arn:aws:sts::") == 0);
    CHECK(proxy.log().find("CONNECT localhost:") != std::string::npos);
    // The log line that names the proxy redacts the password.
    auto r = run(args, proxy_env({}));
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("s3cr3t-Pa55") == std::string::npos);
  }

  SUBCASE("a wrong password: refused, retried within --timeout, then one line naming the proxy") {
    auto args = f.args(standin, {"--proxy", proxy.url("alice:WrongPassw0rd")});
    set_flag(args, "--timeout", "3");
    auto r = run(args, proxy_env({}), seconds(20));
    CAPTURE(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK(r.err.find("via proxy http://alice:***@127.0.0.1:" + std::to_string(proxy.port())) !=
          std::string::npos);
    // tinyproxy answers 401 to a wrong password (407 to none).
    CHECK(r.err.find("the proxy refused the tunnel to localhost:") != std::string::npos);
    CHECK(r.err.find("check the user name and password in the proxy URL") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') >= 1);
    CHECK(r.err.find("WrongPassw0rd") == std::string::npos);
    CHECK(r.elapsed < seconds(6));
    CHECK(standin.records().empty());
  }

  SUBCASE("no credentials at all: the error says the proxy wants them") {
    auto args = f.args(standin, {"--proxy", proxy.url()});
    set_flag(args, "--timeout", "2");
    auto r = run(args, proxy_env({}), seconds(20));
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("HTTP 407") != std::string::npos);
    CHECK(r.err.find("the proxy wants a user name and password") != std::string::npos);
  }
}

TEST_CASE("NO_PROXY and --no-proxy bypass a proxy; a proxy that hangs fails within --timeout") {
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());
  SilentListener hanging;

  SUBCASE("NO_PROXY names the endpoint's host: direct, and the proxy sees nothing") {
    auto r =
        run(f.args(standin),
            proxy_env({{"HTTPS_PROXY", hanging.url()}, {"NO_PROXY", "example.org,localhost"}}));
    CAPTURE(r.err);
    CHECK(r.exit_code == 0);
    CHECK(hanging.connections() == 0);
  }
  SUBCASE("NO_PROXY with a CIDR range matches an IP-literal endpoint") {
    auto args = f.args(standin);
    set_flag(args, "--endpoint", "https://127.0.0.1:" + std::to_string(standin.port()));
    auto r = run(args, proxy_env({{"https_proxy", hanging.url()}, {"no_proxy", "127.0.0.0/8"}}));
    CAPTURE(r.err);
    CHECK(r.exit_code == 0);
    CHECK(hanging.connections() == 0);
  }
  SUBCASE("--no-proxy") {
    auto r = run(f.args(standin, {"--no-proxy"}), proxy_env({{"HTTPS_PROXY", hanging.url()}}));
    CHECK(r.exit_code == 0);
    CHECK(hanging.connections() == 0);
  }
  SUBCASE("a proxy that never answers: exit 1 at --timeout, naming the proxy") {
    auto args = f.args(standin);
    set_flag(args, "--timeout", "3");
    auto r = run(args, proxy_env({{"HTTPS_PROXY", hanging.url()}}), seconds(20));
    CAPTURE(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("via proxy " + hanging.url()) != std::string::npos);
    CHECK(r.err.find("timed out") != std::string::npos);
    CHECK(r.elapsed < seconds(5));
    CHECK(hanging.connections() >= 1);
    CHECK(standin.records().empty());
  }
  SUBCASE("a bad proxy URL is a usage error naming the variable, without its password") {
    auto r = run(f.args(standin), proxy_env({{"HTTPS_PROXY", "https://bob:hunter2@proxy:3128"}}));
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("HTTPS_PROXY: not a usable proxy URL") != std::string::npos);
    CHECK(r.err.find("hunter2") == std::string::npos);
  }
}

TEST_CASE(
    "through the proxy, TLS verifies the endpoint's name (one only the proxy can resolve), "
    "and the FIPS endpoint signs with the plain region") {
  if (auto why = tinyproxy_unavailable()) {
    MESSAGE("skipped: " << *why);
    return;
  }
  if (auto why = mount_namespace_unavailable()) {
    MESSAGE("skipped: " << *why);
    return;
  }
  Fixture f;
  f.serve();

  SUBCASE("a name only the proxy resolves") {
    StandIn standin(f.pki.root_pem(), {{"--server-name", "ra.proxy-only.test"}});
    Tinyproxy proxy({}, "127.0.0.1 localhost\n127.0.0.1 ra.proxy-only.test\n");
    auto args = f.args(standin);
    set_flag(args, "--endpoint", "https://ra.proxy-only.test:" + std::to_string(standin.port()));
    set_flag(args, "--timeout", "5");
    auto direct = run(args, proxy_env({}));  // we can't resolve it ourselves
    CHECK(direct.exit_code == 1);
    CHECK(direct.err.find("resolving ra.proxy-only.test") != std::string::npos);
    auto proxied = run(args, proxy_env({{"HTTPS_PROXY", proxy.url()}}));
    CAPTURE(proxied.err);
    CHECK(proxied.exit_code == 0);
    CHECK(proxy.log().find("CONNECT ra.proxy-only.test:") != std::string::npos);
    REQUIRE(standin.records().size() == 1);
  }

  SUBCASE("--region us-east-1-fips: rolesanywhere-fips.us-east-1.amazonaws.com, scope us-east-1") {
    // The FIPS endpoint is on port 443: the stand-in must have it on loopback.
    if (accepts_connections(443)) {
      MESSAGE("skipped: port 443 on loopback is taken");
      return;
    }
    const std::string fips_host = "rolesanywhere-fips.us-east-1.amazonaws.com";
    StandIn standin(f.pki.root_pem(), {{"--server-name", fips_host, "--port", "443"}});
    Tinyproxy proxy({}, "127.0.0.1 " + fips_host + "\n");
    auto args = f.args(standin, {"--region", "us-east-1-fips"});
    set_flag(args, "--endpoint", std::nullopt);
    auto r = run(args, proxy_env({{"HTTPS_PROXY", proxy.url()}}));
    CAPTURE(r.err);
    CAPTURE(standin.log());
    CHECK(r.exit_code == 0);
    CHECK(proxy.log().find("CONNECT " + fips_host + ":443") != std::string::npos);
    // The stand-in refuses a scope whose region is not us-east-1 ("Region mismatch").
    REQUIRE(standin.records().size() == 1);
    CHECK(standin.log().find("Region mismatch") == std::string::npos);

    // --use-fips-endpoint together with a custom endpoint is refused, as in the SDKs.
    auto both = run(f.args(standin, {"--use-fips-endpoint"}), proxy_env({}));
    CHECK(both.exit_code == 2);
    CHECK(both.err.find("--endpoint sets a custom endpoint") != std::string::npos);
  }
}

TEST_CASE("the Workload API is never proxied, whatever the proxy variables say") {
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());
  SilentListener proxy;
  auto issued = f.pki.issue("spiffe://example.org/tcp", KeyKind::p256, false);
  awh::testpeers::FakeWorkloadApi tcp_agent(f.dir.file("tcp-agent.sock"), {"127.0.0.1:0"});
  tcp_agent.set_svids(
      {{issued.spiffe_id, issued.chain_der, issued.key_pkcs8_der, f.pki.root_der(), ""}});
  auto args = f.args(standin);
  set_flag(args, "--workload-api-addr",
           "tcp://127.0.0.1:" + std::to_string(tcp_agent.tcp_ports().at(0)));
  auto r = run(args, proxy_env({{"grpc_proxy", proxy.url()},
                                {"http_proxy", proxy.url()},
                                {"HTTP_PROXY", proxy.url()},
                                {"https_proxy", proxy.url()},
                                {"no_proxy", "localhost"}}));
  CAPTURE(r.err);
  CHECK(r.exit_code == 0);
  CHECK(proxy.connections() == 0);
  REQUIRE(standin.records().size() == 1);
  CHECK(str(parse_object(standin.records().back()).at("serial")) == issued.serial_decimal);
}

TEST_CASE("IPv6 on loopback: an https://[::1]:port endpoint and a tcp://[::1]:port Workload API") {
  const int probe = socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  const bool have_v6 =
      probe >= 0 && bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (probe >= 0) close(probe);
  if (!have_v6) {
    MESSAGE("skipped: no IPv6 loopback (::1) on this machine");
    return;
  }
  Fixture f;
  StandIn standin(f.pki.root_pem(), {{"--host", "::1"}});
  auto issued = f.pki.issue("spiffe://example.org/v6", KeyKind::p256, false);
  awh::testpeers::FakeWorkloadApi agent(f.dir.file("v6-agent.sock"), {"[::1]:0"});
  agent.set_svids(
      {{issued.spiffe_id, issued.chain_der, issued.key_pkcs8_der, f.pki.root_der(), ""}});
  auto args = f.args(standin);
  set_flag(args, "--endpoint", "https://[::1]:" + std::to_string(standin.port()));
  set_flag(args, "--workload-api-addr", "tcp://[::1]:" + std::to_string(agent.tcp_ports().at(0)));
  auto r = run(args, proxy_env({}));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(parse_object(r.out).at("Version").as_int64() == 1);
  REQUIRE(standin.records().size() == 1);
  CHECK(str(parse_object(standin.records().back()).at("serial")) == issued.serial_decimal);
}
