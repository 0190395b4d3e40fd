// End-to-end tests of `--cache` (the credential_process cache): real processes in parallel, the
// Roles Anywhere stand-in counting the CreateSession calls it answers, and botocore reading
// every answer through a credential_process profile.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <boost/json/serialize.hpp>

#include "fixture.hpp"
#include "moto.hpp"

using namespace awh;
using namespace awh::itest;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// The one entry in the cache directory (the test uses one key at a time).
std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".json") out.push_back(e.path().string());
  }
  return out;
}

std::string issued_json(const std::string& record) {
  const auto c = parse_object(record).at("credentials").as_object();
  return "{\"Version\":1,\"AccessKeyId\":" + boost::json::serialize(c.at("accessKeyId")) +
         ",\"SecretAccessKey\":" + boost::json::serialize(c.at("secretAccessKey")) +
         ",\"SessionToken\":" + boost::json::serialize(c.at("sessionToken")) +
         ",\"Expiration\":" + boost::json::serialize(c.at("expiration")) + "}\n";
}

std::string rfc3339_in(std::chrono::seconds from_now) {
  const std::time_t t =
      std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + from_now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Overwrites an entry in place, keeping its 0600 mode (what a stale or damaged entry looks like).
void overwrite(const std::string& path, const std::string& text) {
  write_file(path, text);
  REQUIRE(chmod(path.c_str(), 0600) == 0);
}

}  // namespace

TEST_CASE(
    "--cache: 50 parallel runs make one CreateSession; rotation, expiry and corruption "
    "renew it") {
  Fixture f;
  f.serve(KeyKind::p256, true);
  StandIn standin(f.pki.root_pem());
  const std::string cache = f.dir.file("cache");
  const auto args = f.args(standin, {"--cache", "--cache-dir", cache});

  constexpr int kRuns = 50;
  std::vector<RunResult> results(kRuns);
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kRuns; ++i) {
      threads.emplace_back([&, i] { results[i] = run(args, {}, seconds(60)); });
    }
    for (auto& t : threads) t.join();
  }
  const auto records = standin.records();
  REQUIRE(records.size() == 1);  // exactly one CreateSession
  const std::string expected = issued_json(records.front());
  int ok = 0;
  for (const auto& r : results) {
    CAPTURE(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == expected);
    ok += r.exit_code == 0 && r.out == expected;
  }
  CHECK(ok == kRuns);
  MESSAGE("50 parallel runs with --cache: ", records.size(), " CreateSession call(s)");

  // The directory and the entry are private; the entry's name is the key (a hash) only.
  struct stat st {};
  REQUIRE(stat(cache.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  auto files = entries(cache);
  REQUIRE(files.size() == 1);
  REQUIRE(stat(files.front().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(std::filesystem::path(files.front()).stem().string().size() == 64);

  SUBCASE("a rotated SVID (new serial) makes a new CreateSession, then is cached in turn") {
    const auto issued = f.serve(KeyKind::p256, true);
    auto r = run(args);
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    REQUIRE(standin.records().size() == 2);
    CHECK(str(parse_object(standin.records().back()).at("serial")) == issued.serial_decimal);
    CHECK(r.out == issued_json(standin.records().back()));
    CHECK(run(args).out == r.out);
    CHECK(standin.records().size() == 2);
  }
  SUBCASE("an entry with 16 minutes or less left is renewed") {
    auto text = read_file(files.front());
    const auto at = text.find("\"Expiration\":\"");
    REQUIRE(at != std::string::npos);
    text = text.substr(0, at) + "\"Expiration\":\"" + rfc3339_in(seconds(15 * 60)) + "\"}";
    overwrite(files.front(), text);
    auto r = run(args);
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    REQUIRE(standin.records().size() == 2);
    CHECK(r.out == issued_json(standin.records().back()));
    CHECK(read_file(files.front()) + "\n" == r.out);  // the entry was replaced
  }
  SUBCASE("a corrupt entry is ignored and replaced, without an error") {
    overwrite(files.front(), "{\"Version\":1,\"AccessKeyId\":");
    auto r = run(args);
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.empty());
    REQUIRE(standin.records().size() == 2);
    CHECK(r.out == issued_json(standin.records().back()));
    CHECK(run(args).out == r.out);
    CHECK(standin.records().size() == 2);
  }
  SUBCASE("an entry another user could read is not trusted") {
    REQUIRE(chmod(files.front().c_str(), 0644) == 0);
    auto r = run(args);
    REQUIRE(r.exit_code == 0);
    CHECK(standin.records().size() == 2);
  }
}

TEST_CASE("--cache: an unsafe cache directory is refused with a clear error") {
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());
  const std::string cache = f.dir.file("open");
  std::filesystem::create_directory(cache);
  REQUIRE(chmod(cache.c_str(), 0777) == 0);
  auto r = run(f.args(standin, {"--cache", "--cache-dir", cache}));
  check_failure(r, "--cache-dir: " + cache + " is accessible by group or others (mode 0777)");
  std::filesystem::create_directory_symlink(f.dir.file("elsewhere"), f.dir.file("link"));
  std::filesystem::create_directory(f.dir.file("elsewhere"));
  REQUIRE(chmod(f.dir.file("elsewhere").c_str(), 0700) == 0);
  r = run(f.args(standin, {"--cache", "--cache-dir", f.dir.file("link")}));
  check_failure(r, "is a symlink");
  CHECK(standin.records().empty());
}

TEST_CASE("--cache: botocore accepts the cached answers, fresh and renewed") {
  Fixture f;
  f.serve(KeyKind::rsa2048, true);
  StandIn standin(f.pki.root_pem());
  Moto moto(f.dir);
  const std::string cache = f.dir.file("cache");
  write_file(f.dir.file("config"),
             "[profile it]\ncredential_process = " +
                 command_line(f.args(standin, {"--cache", "--cache-dir", cache})) +
                 "\nregion = us-east-1\n");
  const std::map<std::string, std::string> env{{"AWS_CONFIG_FILE", f.dir.file("config")},
                                               {"AWS_SHARED_CREDENTIALS_FILE", "/dev/null"},
                                               {"AWS_ACCESS_KEY_ID", "\x01"},
                                               {"AWS_SECRET_ACCESS_KEY", "\x01"},
                                               {"AWS_SESSION_TOKEN", "\x01"},
                                               {"AWS_PROFILE", "\x01"}};
  // Each botocore process runs the helper once: the first exchanges, the others read the cache.
  const std::string script =
      "import sys, json, botocore.session\n"
      "s = botocore.session.Session(profile='it')\n"
      "c = s.get_credentials()\n"
      "assert c.method == 'custom-process', c.method\n"
      "fc = c.get_frozen_credentials()\n"
      "sts = s.create_client('sts', endpoint_url=sys.argv[1])\n"
      "print(json.dumps([fc.access_key, fc.secret_key, fc.token, "
      "sts.get_caller_identity()['Account']]))\n";
  std::vector<std::string> seen;
  for (int i = 0; i < 3; ++i) {
    if (i == 2) {  // then a damaged entry: renewed, and botocore takes the new answer too
      for (const auto& e : entries(cache)) overwrite(e, "garbage");
    }
    auto b = run({"python3", "-c", script, moto.endpoint()}, env);
    CAPTURE(b.err);
    REQUIRE(b.exit_code == 0);
    const auto got = boost::json::parse(b.out).as_array();
    const auto issued = parse_object(standin.records().back()).at("credentials").as_object();
    CHECK(got.at(0).as_string() == issued.at("accessKeyId").as_string());
    CHECK(got.at(1).as_string() == issued.at("secretAccessKey").as_string());
    CHECK(got.at(2).as_string() == issued.at("sessionToken").as_string());
    CHECK(got.at(3).as_string() == "123456789012");
    seen.push_back(std::string(got.at(0).as_string()));
  }
  CHECK(standin.records().size() == 2);
  CHECK(seen.at(0) == seen.at(1));
  CHECK(seen.at(1) != seen.at(2));
}

TEST_CASE("--cache with jwt-credential-process: one AssumeRoleWithWebIdentity per JWT-SVID") {
  Fixture f;
  f.agent.set_jwt_svids(
      {{"spiffe://example.org/j", make_jwt("spiffe://example.org/j", kAudience), ""}});
  StsStandIn sts;
  const auto args = f.jwt_args(sts.endpoint(), {"--cache", "--cache-dir", f.dir.file("cache")});
  auto first = run(args);
  CAPTURE(first.err);
  REQUIRE(first.exit_code == 0);
  auto second = run(args);
  REQUIRE(second.exit_code == 0);
  CHECK(second.out == first.out);
  CHECK(sts.records().size() == 1);
  // A new JWT-SVID (another expiry): a new exchange.
  f.agent.set_jwt_svids(
      {{"spiffe://example.org/j",
        make_jwt("spiffe://example.org/j", kAudience, std::chrono::minutes(7)), ""}});
  auto third = run(args);
  REQUIRE(third.exit_code == 0);
  CHECK(sts.records().size() == 2);
  CHECK(third.out != first.out);
}

TEST_CASE("--cache: a run that writes an entry clears out the entries past use and their locks") {
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());
  const std::string cache = f.dir.file("cache");
  std::filesystem::create_directory(cache);
  REQUIRE(chmod(cache.c_str(), 0700) == 0);
  // Left by earlier runs: an entry that expired two hours ago with both its lock files, and a
  // live one (another identity's) with its lock, which a run holds right now.
  const std::string stale(64, '1');
  const std::string live(64, '2');
  const auto entry = [&](const std::string& key, std::chrono::seconds from_now) {
    overwrite(cache + "/" + key + ".json",
              "{\"Version\":1,\"AccessKeyId\":\"ASIAOLD\",\"SecretAccessKey\":\"s\","
              "\"SessionToken\":\"t\",\"Expiration\":\"" +
                  rfc3339_in(from_now) + "\"}\n");
    overwrite(cache + "/" + key + ".lock", "");
    overwrite(cache + "/." + key + ".json.lock", "");
  };
  entry(stale, -std::chrono::hours(2));
  entry(live, std::chrono::hours(1));
  const int held = open((cache + "/" + live + ".lock").c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(held >= 0);
  REQUIRE(flock(held, LOCK_EX) == 0);

  const auto r = run(f.args(standin, {"--cache", "--cache-dir", cache}));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(standin.records().size() == 1);
  for (const auto& name : {stale + ".json", stale + ".lock", "." + stale + ".json.lock"}) {
    CAPTURE(name);
    CHECK_FALSE(std::filesystem::exists(cache + "/" + name));
  }
  for (const auto& name : {live + ".json", live + ".lock", "." + live + ".json.lock"}) {
    CAPTURE(name);
    CHECK(std::filesystem::exists(cache + "/" + name));
  }
  CHECK(entries(cache).size() == 2);  // the live one and the new one
  close(held);
}
