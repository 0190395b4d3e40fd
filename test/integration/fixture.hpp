#pragma once
// What the end-to-end tests share: the ARNs, a fixture with a test PKI and the fake Workload API,
// the binary's command line, and checks on results.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>

#include "fake_workload_api.hpp"
#include "harness.hpp"
#include "test_pki.hpp"

namespace awh::itest {

using testpeers::KeyKind;

inline const std::string kTrustAnchorArn =
    "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/6c1e9d3b-2f4a";
inline const std::string kProfileArn =
    "arn:aws:rolesanywhere:us-east-1:123456789012:profile/0f2bd9a0-5a59";
inline const std::string kRoleArn = "arn:aws:iam::123456789012:role/path/Example+Role=Test";
inline const std::string kAudience = "sts.amazonaws.com";

inline std::string base64url(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : in) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out.push_back(kAlphabet[(bits >> count) & 0x3f]);
    }
  }
  if (count > 0) out.push_back(kAlphabet[(bits << (6 - count)) & 0x3f]);
  return out;
}

// A JWT-SVID-shaped token (unsigned: we are not the relying party, and neither is moto) for
// `subject`, `audience`, expiring `lifetime` from now (negative: already expired).
inline std::string make_jwt(const std::string& subject, const std::string& audience,
                            std::chrono::seconds lifetime = std::chrono::minutes(5)) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::string header = R"({"alg":"ES256","kid":"test","typ":"JWT"})";
  const std::string payload = R"({"sub":")" + subject + R"(","aud":[")" + audience +
                              R"("],"exp":)" + std::to_string(now + lifetime.count()) +
                              R"(,"iat":)" + std::to_string(now) + "}";
  return base64url(header) + "." + base64url(payload) + "." + base64url("not a real signature");
}

struct Fixture {
  TempDir dir;
  testpeers::TestPki pki;
  testpeers::FakeWorkloadApi agent{dir.file("agent.sock")};

  testpeers::IssuedSvid serve(KeyKind kind = KeyKind::p256, bool intermediate = true,
                              const std::string& id = "spiffe://example.org/workload") {
    auto issued = pki.issue(id, kind, intermediate);
    agent.set_svids(
        {{issued.spiffe_id, issued.chain_der, issued.key_pkcs8_der, pki.root_der(), ""}});
    return issued;
  }

  std::vector<std::string> args(const StandIn& standin, std::vector<std::string> extra = {},
                                const std::string& command = "x509-credential-process") const {
    std::vector<std::string> a{binary_path(),         command,
                               "--trust-anchor-arn",  kTrustAnchorArn,
                               "--profile-arn",       kProfileArn,
                               "--role-arn",          kRoleArn,
                               "--workload-api-addr", "unix://" + dir.file("agent.sock"),
                               "--endpoint",          standin.endpoint(),
                               "--ca-bundle",         standin.ca_pem_path(),
                               "--timeout",           "20"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  // The JWT commands against an STS at `endpoint`, for audience kAudience.
  std::vector<std::string> jwt_args(const std::string& endpoint,
                                    std::vector<std::string> extra = {},
                                    const std::string& command = "jwt-credential-process") const {
    std::vector<std::string> a{
        binary_path(), command,  "--audience",          kAudience,
        "--endpoint",  endpoint, "--workload-api-addr", "unix://" + dir.file("agent.sock"),
        "--timeout",   "20"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

// Polls `condition` every 20 ms until it holds or `timeout` passes: every wait in a test is
// bounded.
inline bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// The file our writer makes for one profile (a new file, or --replace).
inline std::string profile_text(const std::string& profile, const std::string& key,
                                const std::string& secret, const std::string& token) {
  return "[" + profile + "]\naws_access_key_id = " + key + "\naws_secret_access_key = " + secret +
         "\naws_session_token = " + token + "\n";
}

// argv as one line, for a credential_process setting (our test paths hold no spaces).
inline std::string command_line(const std::vector<std::string>& args) {
  std::string line;
  for (const auto& a : args) line += (line.empty() ? "" : " ") + a;
  return line;
}

inline boost::json::object parse_object(const std::string& text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  REQUIRE_MESSAGE(!ec, "not JSON: ", text);
  REQUIRE(v.is_object());
  return v.as_object();
}

// Replaces the value of `flag` in `args`, or removes flag and value when `value` is nullopt.
inline void set_flag(std::vector<std::string>& args, const std::string& flag,
                     std::optional<std::string> value) {
  const auto it = std::find(args.begin(), args.end(), flag);
  REQUIRE(it != args.end());
  if (value) {
    *(it + 1) = *value;
  } else {
    args.erase(it, it + 2);
  }
}

inline std::string str(const boost::json::value& v) { return std::string(v.as_string()); }

// A failure: non-zero exit, nothing on stdout, one clear line on stderr containing `needle`.
inline void check_failure(const RunResult& r, const std::string& needle, int code = 1) {
  CAPTURE(r.err);
  CHECK(r.exit_code == code);
  CHECK(r.out.empty());
  CHECK(r.err.find(needle) != std::string::npos);
}

}  // namespace awh::itest
