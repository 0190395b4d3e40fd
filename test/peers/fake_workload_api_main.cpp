// fake-workload-api: serves a throw-away SPIFFE identity on a unix socket, for demo scripts and
// manual runs of the helper without a SPIRE agent.
//
//   fake-workload-api --socket PATH --trust-anchor-out FILE [--key rsa|p256|p384]
//                     [--intermediate] [--spiffe-id ID] [--hint H] [--svids N]
//                     [--lifetime SECONDS] [--jwt-token TOKEN]
//
// Writes the root CA (PEM) to FILE, prints READY on stdout once listening, and exits 0 on
// SIGTERM or SIGINT. SIGUSR1 rotates: every SVID is issued again (new key, new serial, same
// PKI) and pushed to the open streams. Usage errors exit 2, runtime failures 1. Diagnostics go to
// stderr.

#include <fmt/core.h>
#include <signal.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fake_workload_api.hpp"
#include "test_pki.hpp"

namespace {

using awh::testpeers::FakeJwtSvid;
using awh::testpeers::FakeSvid;
using awh::testpeers::FakeWorkloadApi;
using awh::testpeers::IssuedSvid;
using awh::testpeers::KeyKind;
using awh::testpeers::TestPki;

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

struct Options {
  std::string socket;
  std::string trust_anchor_out;
  KeyKind key = KeyKind::p256;
  bool intermediate = false;
  std::string spiffe_id = "spiffe://example.org/workload";
  std::string hint;
  int svids = 1;
  long lifetime_seconds = 3600;
  std::string jwt_token;
};

constexpr std::string_view kUsage =
    "usage: fake-workload-api --socket PATH --trust-anchor-out FILE [--key rsa|p256|p384]\n"
    "                         [--intermediate] [--spiffe-id ID] [--hint H] [--svids N]\n"
    "                         [--lifetime SECONDS] [--jwt-token TOKEN]\n";

struct UsageError {
  std::string message;
};

template <class Int>
Int parse_int(std::string_view flag, std::string_view text, Int min) {
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min) {
    throw UsageError{fmt::format("{}: expected an integer >= {}, got '{}'", flag, min, text)};
  }
  return value;
}

Options parse_args(int argc, char** argv) {
  Options opt;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view flag = args[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw UsageError{fmt::format("{} needs a value", flag)};
      return args[++i];
    };
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage.data(), stdout);
      std::exit(0);
    } else if (flag == "--socket") {
      opt.socket = value();
    } else if (flag == "--trust-anchor-out") {
      opt.trust_anchor_out = value();
    } else if (flag == "--key") {
      const std::string_view kind = value();
      if (kind == "rsa" || kind == "rsa2048") {
        opt.key = KeyKind::rsa2048;
      } else if (kind == "p256") {
        opt.key = KeyKind::p256;
      } else if (kind == "p384") {
        opt.key = KeyKind::p384;
      } else {
        throw UsageError{fmt::format("--key: expected rsa, p256 or p384, got '{}'", kind)};
      }
    } else if (flag == "--intermediate") {
      opt.intermediate = true;
    } else if (flag == "--spiffe-id") {
      opt.spiffe_id = value();
    } else if (flag == "--hint") {
      opt.hint = value();
    } else if (flag == "--svids") {
      opt.svids = parse_int<int>(flag, value(), 1);
    } else if (flag == "--lifetime") {
      opt.lifetime_seconds = parse_int<long>(flag, value(), 1);
    } else if (flag == "--jwt-token") {
      opt.jwt_token = value();
    } else {
      throw UsageError{fmt::format("unknown flag '{}'", flag)};
    }
  }
  if (opt.socket.empty()) throw UsageError{"--socket is required"};
  if (opt.socket.front() != '/') throw UsageError{"--socket must be an absolute path"};
  if (opt.trust_anchor_out.empty()) throw UsageError{"--trust-anchor-out is required"};
  return opt;
}

// "spiffe://td/path" -> "td".
std::string trust_domain_of(const std::string& spiffe_id) {
  constexpr std::string_view kScheme = "spiffe://";
  if (spiffe_id.rfind(kScheme, 0) != 0) {
    throw UsageError{fmt::format("--spiffe-id: '{}' does not start with spiffe://", spiffe_id)};
  }
  const std::string rest = spiffe_id.substr(kScheme.size());
  const std::string td = rest.substr(0, rest.find('/'));
  if (td.empty()) throw UsageError{fmt::format("--spiffe-id: '{}' has no trust domain", spiffe_id)};
  return td;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) throw std::runtime_error(fmt::format("cannot write {}", path));
}

int run(const Options& opt, const sigset_t& signals) {
  TestPki pki(trust_domain_of(opt.spiffe_id));
  write_file(opt.trust_anchor_out, pki.root_pem());

  // One SVID: the given ID and hint. N SVIDs: <ID>, <ID>-2, ..., hints h1..hN.
  auto issue_all = [&] {
    std::vector<FakeSvid> svids;
    for (int n = 1; n <= opt.svids; ++n) {
      const std::string id = n == 1 ? opt.spiffe_id : fmt::format("{}-{}", opt.spiffe_id, n);
      const IssuedSvid issued =
          pki.issue(id, opt.key, opt.intermediate, std::chrono::seconds(opt.lifetime_seconds));
      const std::string hint = opt.svids == 1 ? opt.hint : fmt::format("h{}", n);
      svids.push_back(
          FakeSvid{issued.spiffe_id, issued.chain_der, issued.key_pkcs8_der, pki.root_der(), hint});
      fmt::print(stderr, "fake-workload-api: SVID {} (hint '{}', serial {})\n", id, hint,
                 issued.serial_decimal);
    }
    return svids;
  };

  FakeWorkloadApi api(opt.socket);
  api.set_svids(issue_all());
  if (!opt.jwt_token.empty()) {
    api.set_jwt_svids({FakeJwtSvid{opt.spiffe_id, opt.jwt_token, opt.hint}});
  }
  fmt::print(stderr, "fake-workload-api: serving {}\n", api.address());
  std::fputs("READY\n", stdout);
  std::fflush(stdout);

  int signal_number = 0;
  for (;;) {
    if (sigwait(&signals, &signal_number) != 0) throw std::runtime_error("sigwait failed");
    if (signal_number != SIGUSR1) break;
    fmt::print(stderr, "fake-workload-api: SIGUSR1, rotating\n");
    api.set_svids(issue_all());
  }
  fmt::print(stderr, "fake-workload-api: signal {}, shutting down\n", signal_number);
  api.shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Block the stop and rotate signals before gRPC starts any thread (threads inherit the mask),
  // then receive them synchronously with sigwait: no handler, nothing async-signal-unsafe.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) {
    std::fputs("fake-workload-api: pthread_sigmask failed\n", stderr);
    return kExitFailure;
  }

  Options opt;
  try {
    opt = parse_args(argc, argv);
  } catch (const UsageError& e) {
    fmt::print(stderr, "fake-workload-api: {}\n{}", e.message, kUsage);
    return kExitUsage;
  }
  try {
    return run(opt, signals);
  } catch (const UsageError& e) {
    fmt::print(stderr, "fake-workload-api: {}\n", e.message);
    return kExitUsage;
  } catch (const std::exception& e) {
    fmt::print(stderr, "fake-workload-api: {}\n", e.what());
    return kExitFailure;
  }
}
