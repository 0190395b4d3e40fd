// End-to-end tests of the credentials-file modes: `x509-credential-file-oneshot` and the
// `x509-credential-file` daemon, against the fake Workload API and the Roles Anywhere stand-in
// (whose credential lifetime is cut to seconds so that renewals come quickly). Readers of the
// file are botocore's own (python3).
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <regex>
#include <thread>

#include "fixture.hpp"
#include "moto.hpp"

using namespace awh;
using namespace awh::itest;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

namespace {

// One set of credentials the stand-in issued, from its request records.
struct Issued {
  double time = 0;  // when the stand-in answered (Unix time)
  std::string access_key, secret_key, token, expiration, serial;
  double expires_at = 0;  // Unix time
};

double unix_time(const std::string& rfc3339) {
  std::tm tm{};
  REQUIRE(strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm) != nullptr);
  return static_cast<double>(timegm(&tm));
}

std::vector<Issued> issued(const StandIn& standin) {
  std::vector<Issued> out;
  for (const auto& line : standin.records()) {
    const auto record = parse_object(line);
    if (record.at("status").as_int64() != 201 || record.at("credentials").is_null()) continue;
    const auto& c = record.at("credentials").as_object();
    out.push_back({record.at("time").to_number<double>(), str(c.at("accessKeyId")),
                   str(c.at("secretAccessKey")), str(c.at("sessionToken")), str(c.at("expiration")),
                   str(record.at("serial")), unix_time(str(c.at("expiration")))});
  }
  return out;
}

// When the stand-in answered with a 5xx.
std::vector<double> failure_times(const StandIn& standin) {
  std::vector<double> times;
  for (const auto& line : standin.records()) {
    const auto record = parse_object(line);
    if (record.at("status").as_int64() >= 500)
      times.push_back(record.at("time").to_number<double>());
  }
  return times;
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A credentials file with neighbours that must survive every write byte for byte.
const std::string kTemplate =
    "# managed by hand; keep this comment\n"
    "[other]\n"
    "aws_access_key_id = AKIAOTHER\n"
    "aws_secret_access_key = other-secret\n"
    "\n"
    "; the workload profile\n"
    "[default]\n"
    "region = eu-west-1\n"
    "aws_access_key_id=@KEY@\n"
    "aws_secret_access_key   =   @SECRET@\n"
    "aws_session_token = @TOKEN@\n"
    "output = json\n"
    "\n"
    "[profile tail]\n"
    "region = us-east-2";  // no final newline

std::string fill(const std::string& key, const std::string& secret, const std::string& token) {
  std::string s = kTemplate;
  auto put = [&](const std::string& what, const std::string& value) {
    s.replace(s.find(what), what.size(), value);
  };
  put("@KEY@", key);
  put("@SECRET@", secret);
  put("@TOKEN@", token);
  return s;
}

std::string only_profile(const std::string& profile, const Issued& c) {
  return profile_text(profile, c.access_key, c.secret_key, c.token);
}

// What botocore itself reads from the file: "<key> <secret> <token>".
std::string botocore_reads(const std::string& path, const std::string& profile) {
  const std::string script =
      "import sys\n"
      "from botocore.credentials import SharedCredentialProvider\n"
      "c = SharedCredentialProvider(creds_filename=sys.argv[1], profile_name=sys.argv[2]).load()\n"
      "print('none' if c is None else ' '.join([c.access_key, c.secret_key, c.token or '']))\n";
  auto r = run({"python3", "-c", script, path, profile});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return r.out;
}

// The daemon under test, its stderr in a log file.
class Daemon {
 public:
  Daemon(const std::vector<std::string>& argv, std::string log_path)
      : log_path_(std::move(log_path)), child_(argv, {}, log_path_) {}
  std::string log() const { return std::filesystem::exists(log_path_) ? read_file(log_path_) : ""; }
  Child& child() { return child_; }

 private:
  std::string log_path_;
  Child child_;
};

// For checks that need a directory we can't write to: root ignores permission bits, so run the
// binary as nobody then.
std::vector<std::string> unprivileged(std::vector<std::string> argv) {
  if (geteuid() == 0)
    argv.insert(argv.begin(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  return argv;
}

}  // namespace

TEST_CASE("x509-credential-file-oneshot sets the profile's keys and keeps every other byte") {
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());
  const std::string path = f.dir.file("credentials");
  write_file(path, fill("OLDKEY", "old-secret", "old-token"));
  REQUIRE(chmod(path.c_str(), 0640) == 0);

  auto r = run(f.args(standin, {"--aws-credentials-path", path}, "x509-credential-file-oneshot"));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.empty());
  const auto sets = issued(standin);
  REQUIRE(sets.size() == 1);
  const auto& c = sets.back();
  CHECK(read_file(path) == fill(c.access_key, c.secret_key, c.token));
  CHECK(mode_of(path) == 0640);  // an existing file keeps its mode
  CHECK(botocore_reads(path, "default") ==
        c.access_key + " " + c.secret_key + " " + c.token + "\n");
  CHECK(botocore_reads(path, "other") == "AKIAOTHER other-secret \n");
  CHECK(r.err.find("wrote credentials") != std::string::npos);
  CHECK(r.err.find(c.secret_key) == std::string::npos);
  CHECK(r.err.find(c.token) == std::string::npos);
  CHECK(dir_entries(f.dir.path()) == std::vector<std::string>{".credentials.lock", "agent.sock",
                                                              "credentials"});  // no temp files

  SUBCASE("--profile writes another profile; the first stays as it was") {
    const std::string before = read_file(path);
    auto r2 = run(f.args(standin, {"--aws-credentials-path", path, "--profile", "workload"},
                         "x509-credential-file-oneshot"));
    REQUIRE(r2.exit_code == 0);
    const auto c2 = issued(standin).back();
    CHECK(read_file(path) == before + "\n\n" + only_profile("workload", c2));
    CHECK(botocore_reads(path, "workload") ==
          c2.access_key + " " + c2.secret_key + " " + c2.token + "\n");
  }
}

TEST_CASE("a new file is 0600 and its new parent directories 0700, also with --replace") {
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());
  for (bool replace : {false, true}) {
    CAPTURE(replace);
    const std::string base = f.dir.file(replace ? "r" : "n");
    const std::string path = base + "/aws/credentials";
    auto args = f.args(standin, {"--aws-credentials-path", path}, "x509-credential-file-oneshot");
    if (replace) args.push_back("--replace");
    auto r = run(args);
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(read_file(path) == only_profile("default", issued(standin).back()));
    CHECK(mode_of(path) == 0600);
    CHECK(mode_of(base + "/aws") == 0700);
    CHECK(mode_of(base) == 0700);
  }
}

TEST_CASE(
    "a file that can't be parsed is left alone without --force; --force and --replace overwrite") {
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());
  const std::string path = f.dir.file("credentials");
  const std::string corrupt = "aws_access_key_id = outside-any-section\n[default\n";
  write_file(path, corrupt);

  for (const char* command : {"x509-credential-file-oneshot", "x509-credential-file"}) {
    CAPTURE(command);
    auto r = run(f.args(standin, {"--aws-credentials-path", path}, command), {}, seconds(30));
    check_failure(r, "can't be parsed");
    CHECK(r.err.find("--force") != std::string::npos);
    CHECK(r.err.find(path) != std::string::npos);
    CHECK(read_file(path) == corrupt);
  }
  CHECK(standin.records().empty());  // refused before asking for credentials

  SUBCASE("--force") {
    auto r = run(f.args(standin, {"--aws-credentials-path", path, "--force"},
                        "x509-credential-file-oneshot"));
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(read_file(path) == only_profile("default", issued(standin).back()));
    CHECK(r.err.find("--force") != std::string::npos);  // the overwrite is logged
  }
  SUBCASE("--replace drops a valid file's other profiles too") {
    write_file(path, fill("K", "S", "T"));
    auto r = run(f.args(standin, {"--aws-credentials-path", path, "--replace", "--profile", "p"},
                        "x509-credential-file-oneshot"));
    REQUIRE(r.exit_code == 0);
    CHECK(read_file(path) == only_profile("p", issued(standin).back()));
  }
  CHECK(dir_entries(f.dir.path()) ==
        std::vector<std::string>{".credentials.lock", "agent.sock", "credentials"});
}

TEST_CASE("hostile credentials paths are refused at start-up, before any exchange") {
  if (geteuid() != 0) {
    MESSAGE("skipped (not root, can't create files of another user)");
    return;
  }
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());
  const std::string victim = f.dir.file("victim.sh");
  write_file(victim, "#!/bin/sh\n");
  REQUIRE(chmod(victim.c_str(), 0755) == 0);
  const std::string link = f.dir.file("credentials");
  REQUIRE(symlink(victim.c_str(), link.c_str()) == 0);
  REQUIRE(lchown(link.c_str(), 65534, 65534) == 0);
  for (const char* command : {"x509-credential-file-oneshot", "x509-credential-file"}) {
    CAPTURE(command);
    for (const char* flag : {"--replace", "--force"}) {
      auto r =
          run(f.args(standin, {"--aws-credentials-path", link, flag}, command), {}, seconds(30));
      check_failure(r, "symlink " + link + " is owned by uid 65534");
    }
  }
  CHECK(read_file(victim) == "#!/bin/sh\n");
  CHECK(mode_of(victim) == 0755);

  // A 0666 file another user pre-created: refused; --force replaces it with a file of ours.
  const std::string theirs = f.dir.file("theirs");
  write_file(theirs, fill("K", "S", "T"));
  REQUIRE(chmod(theirs.c_str(), 0666) == 0);
  REQUIRE(chown(theirs.c_str(), 65534, 65534) == 0);
  auto r = run(f.args(standin, {"--aws-credentials-path", theirs}, "x509-credential-file-oneshot"));
  check_failure(r, "is owned by uid 65534");
  CHECK(standin.records().empty());
  r = run(f.args(standin, {"--aws-credentials-path", theirs, "--force"},
                 "x509-credential-file-oneshot"));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  struct stat st {};
  REQUIRE(stat(theirs.c_str(), &st) == 0);
  CHECK(st.st_uid == 0u);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(read_file(theirs) == only_profile("default", issued(standin).back()));

  // A FIFO target fails at once; the daemon does not hang on it.
  const std::string fifo = f.dir.file("fifo");
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  r = run(f.args(standin, {"--aws-credentials-path", fifo}, "x509-credential-file"), {},
          seconds(10));
  check_failure(r, "is a FIFO, not a regular file");
}

TEST_CASE("a directory we can't write to is a clear error, before any exchange") {
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());
  REQUIRE(chmod(f.dir.path().c_str(), 0755) == 0);
  const std::string dir = f.dir.file("ro");
  REQUIRE(mkdir(dir.c_str(), 0555) == 0);
  const std::string path = dir + "/credentials";
  for (const char* command : {"x509-credential-file-oneshot", "x509-credential-file"}) {
    CAPTURE(command);
    auto r = run(unprivileged(f.args(standin, {"--aws-credentials-path", path}, command)), {},
                 seconds(30));
    check_failure(r, dir);
    CHECK(r.err.find("Permission denied") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(path));
  }
  CHECK(standin.records().empty());
}

TEST_CASE("the daemon renews at half-life; a concurrent botocore reader never sees a bad file") {
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem(), {{"--lifetime", "3"}});
  const std::string path = f.dir.file("credentials");
  write_file(path, fill("OLDKEY", "old-secret", "old-token"));
  REQUIRE(chmod(path.c_str(), 0640) == 0);

  Daemon daemon(f.args(standin, {"--aws-credentials-path", path}, "x509-credential-file"),
                f.dir.file("daemon.log"));
  // The reader starts once the first renewal is in, so that every read must succeed.
  REQUIRE_MESSAGE(eventually([&] { return !issued(standin).empty(); }, seconds(20)), daemon.log());
  REQUIRE(eventually(
      [&] { return read_file(path).find(issued(standin).front().access_key) != std::string::npos; },
      seconds(5)));
  const std::string stop_file = f.dir.file("stop-reader");
  const std::string result = f.dir.file("reader.json");
  Child reader({"python3", source_root() + "/test/integration/creds_reader.py", path, "default",
                stop_file, result});

  // A Roles Anywhere outage in the middle: nine 503s in a row, more than one exchange's own
  // retries (4 attempts) absorb, so the daemon itself must retry twice.
  REQUIRE_MESSAGE(eventually([&] { return issued(standin).size() >= 5; }, seconds(30)),
                  daemon.log());
  standin.fail_next("503,503,503,503,503,503,503,503,503");
  REQUIRE_MESSAGE(eventually([&] { return failure_times(standin).size() >= 9; }, seconds(30)),
                  daemon.log());
  const auto after_outage = issued(standin).size();
  // Recovery, then enough renewals for about ten under the reader. (The renewal decisions
  // themselves, half-life, jitter and backoff, are unit-tested on the scheduler; this test is
  // about the file a real reader sees while the daemon rewrites it.)
  REQUIRE_MESSAGE(
      eventually(
          [&] { return issued(standin).size() >= std::max<std::size_t>(after_outage + 3, 13); },
          seconds(60)),
      daemon.log());

  write_file(stop_file, "");
  REQUIRE(reader.wait(seconds(20)) == 0);
  const auto started = Clock::now();
  daemon.child().signal(SIGTERM);
  const auto code = daemon.child().wait(seconds(5));
  const auto stop_time = Clock::now() - started;
  CHECK(code == 0);
  CHECK(stop_time < seconds(2));  // "within a second", with room for a loaded machine

  const auto sets = issued(standin);
  const std::string log = daemon.log();
  CAPTURE(log);

  // The reader: no failure, and every set it saw was issued, in issuing order (so it only ever saw
  // the latest or the previous set).
  const auto report = parse_object(read_file(result));
  CHECK(report.at("failures").as_int64() == 0);
  CHECK(report.at("reads").as_int64() > 50);
  CAPTURE(report.at("first_failures"));
  std::size_t last_index = 0;
  const auto& seen = report.at("seen").as_array();
  CHECK(seen.size() >= 8);
  for (const auto& s : seen) {
    const auto& triple = s.as_array();
    const auto it = std::find_if(sets.begin(), sets.end(),
                                 [&](const Issued& c) { return c.access_key == str(triple[0]); });
    REQUIRE_MESSAGE(it != sets.end(), "the reader saw credentials nobody issued");
    CHECK(str(triple[1]) == it->secret_key);
    CHECK(str(triple[2]) == it->token);
    const auto index = static_cast<std::size_t>(it - sets.begin());
    CHECK(index >= last_index);
    last_index = index;
  }

  // Half-life: each renewal came about half-way through the previous credentials' remaining life
  // (the jitter takes up to 10 % off; the outage's retries are left out). The first renewal after
  // start is spread over [2.5 %, 50 %] of the lifetime, never below the 1 s floor.
  const auto failures = failure_times(standin);
  {
    const double first = sets[1].time - sets[0].time;
    CHECK(first >= 0.9);
    CHECK(first <= (sets[0].expires_at - sets[0].time) / 2 + 0.75);
  }
  int checked = 0;
  for (std::size_t i = 2; i < sets.size(); ++i) {
    const double interval = sets[i].time - sets[i - 1].time;
    const double half = (sets[i - 1].expires_at - sets[i - 1].time) / 2;
    if (std::any_of(failures.begin(), failures.end(),
                    [&](double t) { return t > sets[i - 1].time && t < sets[i].time; })) {
      continue;  // spans the outage
    }
    CAPTURE(i);
    CAPTURE(interval);
    CAPTURE(half);
    CHECK(interval >= 0.85 * half);
    CHECK(interval <= half + 0.75);
    ++checked;
  }
  CHECK(checked >= 6);

  // Neighbours are byte-identical; the profile holds the last set.
  CHECK(read_file(path) == fill(sets.back().access_key, sets.back().secret_key, sets.back().token));
  CHECK(mode_of(path) == 0640);  // as it was
  CHECK(dir_entries(f.dir.path()) == std::vector<std::string>{".credentials.lock", "agent.sock",
                                                              "credentials", "daemon.log",
                                                              "reader.json", "stop-reader"});

  // The log tells each renewal and the outage, and no secret.
  CHECK(log.find("renewed profile [default]") != std::string::npos);
  CHECK(log.find("renewal failed (1 in a row)") != std::string::npos);
  CHECK(log.find("renewal failed (2 in a row)") != std::string::npos);
  CHECK(log.find("renewal failed (3 in a row)") == std::string::npos);
  CHECK(log.find("the file keeps the current credentials; next attempt at") != std::string::npos);
  CHECK(log.find("SIGTERM: stopping") != std::string::npos);
  for (const auto& c : sets) {
    CHECK(log.find(c.secret_key) == std::string::npos);
    CHECK(log.find(c.token) == std::string::npos);
  }
}

TEST_CASE("the daemon renews on a new certificate and on SIGHUP, not on a bundle-only update") {
  Fixture f;
  auto first = f.serve(KeyKind::p256);
  StandIn standin(f.pki.root_pem());  // credentials for the requested hour: no timed renewals here
  const std::string path = f.dir.file("credentials");
  Daemon daemon(f.args(standin, {"--aws-credentials-path", path}, "x509-credential-file"),
                f.dir.file("daemon.log"));
  REQUIRE_MESSAGE(eventually([&] { return issued(standin).size() == 1; }, seconds(20)),
                  daemon.log());
  CHECK(issued(standin).back().serial == first.serial_decimal);

  SUBCASE("rotation") {
    auto second = f.pki.issue("spiffe://example.org/workload", KeyKind::rsa2048, false);
    const auto rotated = Clock::now();
    f.agent.set_svids(
        {{second.spiffe_id, second.chain_der, second.key_pkcs8_der, f.pki.root_der(), ""}});
    REQUIRE_MESSAGE(eventually([&] { return issued(standin).size() == 2; }, seconds(5)),
                    daemon.log());
    CHECK(Clock::now() - rotated < seconds(2));
    CHECK(issued(standin).back().serial == second.serial_decimal);
    REQUIRE(eventually(
        [&] { return read_file(path) == only_profile("default", issued(standin).back()); },
        seconds(2)));

    // The same certificate with another bundle: no exchange.
    f.agent.set_svids({{second.spiffe_id, second.chain_der, second.key_pkcs8_der,
                        f.pki.root_der() + f.pki.intermediate_der(), ""}});
    std::this_thread::sleep_for(milliseconds(1500));
    CHECK(issued(standin).size() == 2);
  }
  SUBCASE("SIGHUP") {
    const auto hup = Clock::now();
    daemon.child().signal(SIGHUP);
    REQUIRE_MESSAGE(eventually([&] { return issued(standin).size() == 2; }, seconds(5)),
                    daemon.log());
    CHECK(Clock::now() - hup < seconds(2));
    CHECK(daemon.log().find("SIGHUP") != std::string::npos);
    REQUIRE(eventually(
        [&] { return read_file(path) == only_profile("default", issued(standin).back()); },
        seconds(2)));
  }
  daemon.child().signal(SIGINT);
  CHECK(daemon.child().wait(seconds(5)) == 0);
}

TEST_CASE("storms of rotations and SIGHUPs are coalesced (--min-renew-interval)") {
  Fixture f;
  f.serve(KeyKind::p256);
  StandIn standin(f.pki.root_pem());
  const std::string path = f.dir.file("credentials");
  Daemon daemon(f.args(standin, {"--aws-credentials-path", path, "--min-renew-interval", "2"},
                       "x509-credential-file"),
                f.dir.file("daemon.log"));
  REQUIRE_MESSAGE(eventually([&] { return issued(standin).size() == 1; }, seconds(20)),
                  daemon.log());
  SUBCASE("a new certificate every 100 ms for 3 s") {
    for (int i = 0; i < 30; ++i) {
      f.serve(KeyKind::p256);
      std::this_thread::sleep_for(milliseconds(100));
    }
    std::this_thread::sleep_for(milliseconds(1500));
    // At once, 2 s later, and 2 s after that for the last ones: never one per rotation.
    const auto n = issued(standin).size() - 1;
    CAPTURE(daemon.log());
    CHECK(n >= 2);
    CHECK(n <= 3);
    CHECK(daemon.log().find("at least 2.0s apart") != std::string::npos);
  }
  SUBCASE("50 SIGHUPs in a second") {
    for (int i = 0; i < 50; ++i) {
      daemon.child().signal(SIGHUP);
      std::this_thread::sleep_for(milliseconds(20));
    }
    std::this_thread::sleep_for(milliseconds(500));
    const auto n = issued(standin).size() - 1;
    CAPTURE(daemon.log());
    CHECK(n >= 1);
    CHECK(n <= 2);
  }
  daemon.child().signal(SIGINT);
  CHECK(daemon.child().wait(seconds(5)) == 0);
}

TEST_CASE("the daemon survives the Workload API going away and comes back with it") {
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());
  const std::string path = f.dir.file("credentials");
  Daemon daemon(f.args(standin, {"--aws-credentials-path", path}, "x509-credential-file"),
                f.dir.file("daemon.log"));
  REQUIRE_MESSAGE(eventually([&] { return issued(standin).size() == 1; }, seconds(20)),
                  daemon.log());
  REQUIRE(
      eventually([&] { return read_file(path) == only_profile("default", issued(standin).back()); },
                 seconds(5)));
  const std::string written = read_file(path);

  f.agent.shutdown();  // the agent stops
  std::this_thread::sleep_for(seconds(3));
  CHECK_FALSE(daemon.child().wait(milliseconds(10)).has_value());  // still running
  CHECK(read_file(path) == written);                               // and the file is untouched
  CHECK(daemon.log().find("reconnecting in") != std::string::npos);

  // The agent restarts on the same socket with a rotated SVID.
  testpeers::FakeWorkloadApi restarted(f.dir.file("agent.sock"));
  auto next = f.pki.issue("spiffe://example.org/workload", KeyKind::p384, true);
  restarted.set_svids({{next.spiffe_id, next.chain_der, next.key_pkcs8_der, f.pki.root_der(), ""}});
  REQUIRE_MESSAGE(eventually([&] { return issued(standin).size() == 2; }, seconds(40)),
                  daemon.log());
  CHECK(issued(standin).back().serial == next.serial_decimal);
  CHECK(restarted.rejected_without_header() == 0);

  daemon.child().signal(SIGTERM);
  CHECK(daemon.child().wait(seconds(5)) == 0);
}

TEST_CASE(
    "the daemon waits for an identity, and exits 1 when the Workload API rejects the request") {
  Fixture f;  // no SVID yet: PERMISSION_DENIED "no identity issued"
  StandIn standin(f.pki.root_pem());
  const std::string path = f.dir.file("credentials");
  Daemon daemon(f.args(standin, {"--aws-credentials-path", path}, "x509-credential-file"),
                f.dir.file("daemon.log"));
  REQUIRE(f.agent.wait_for_calls(2, seconds(20)));
  CHECK_FALSE(daemon.child().wait(milliseconds(10)).has_value());
  CHECK_FALSE(std::filesystem::exists(path));

  f.agent.fail_next(grpc::StatusCode::INVALID_ARGUMENT, 100, "malformed request");
  f.agent.end_streams(grpc::StatusCode::UNAVAILABLE, "agent restarting");
  CHECK(daemon.child().wait(seconds(40)) == 1);
  const std::string log = daemon.log();
  CAPTURE(log);
  CHECK(log.find("INVALID_ARGUMENT") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("the file daemon's --health-addr: /healthz, /readyz, /metrics; never a credential") {
  Fixture f;
  f.serve();
  StandIn standin(f.pki.root_pem());  // hour-long credentials: ready
  const std::string path = f.dir.file("credentials");
  Daemon daemon(f.args(standin, {"--aws-credentials-path", path, "--health-addr", "127.0.0.1:0"},
                       "x509-credential-file"),
                f.dir.file("daemon.log"));
  int port = 0;
  REQUIRE_MESSAGE(
      eventually(
          [&] {
            std::smatch m;
            const auto log = daemon.log();
            if (!std::regex_search(
                    log, m, std::regex(R"(health endpoints on http://127\.0\.0\.1:([0-9]+))")))
              return false;
            port = std::stoi(m[1]);
            return true;
          },
          seconds(20)),
      daemon.log());
  REQUIRE_MESSAGE(eventually([&] { return issued(standin).size() == 1; }, seconds(20)),
                  daemon.log());
  CHECK(http_get(port, "/healthz").status == 200);
  REQUIRE(eventually([&] { return http_get(port, "/readyz").status == 200; }, seconds(5)));
  const auto metrics = http_get(port, "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find("exchanges_total{result=\"success\",class=\"\"} 1") != std::string::npos);
  CHECK(metrics.body.find("command=\"x509-credential-file\"") != std::string::npos);
  CHECK(metrics.body.find(issued(standin).front().secret_key) == std::string::npos);
  CHECK(http_get(port, "/v1/credentials").status == 404);  // no credentials route here

  // The file can't be written any more: not ready.
  std::filesystem::remove(path);
  std::filesystem::create_directory(path);  // a directory where the file was
  daemon.child().signal(SIGHUP);
  REQUIRE_MESSAGE(eventually([&] { return http_get(port, "/readyz").status == 503; }, seconds(10)),
                  daemon.log());
  CHECK(http_get(port, "/metrics").body.find("result=\"failure\",class=\"file\"") !=
        std::string::npos);
  daemon.child().signal(SIGTERM);
  CHECK(daemon.child().wait(seconds(5)) == 0);
}
