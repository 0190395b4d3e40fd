// The credential_process cache: the key, the freshness rule and the entry format (pure), the
// directory and entry files (real files in a temp dir), and the cache step in front of an
// exchange (a fake exchanger, a fake clock).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "creds/cache.hpp"
#include "creds/cache_store.hpp"
#include "engine/cache.hpp"
#include "util/time.hpp"

using namespace awh;
using namespace std::chrono;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

creds::CacheKeyInput sample_key() {
  creds::CacheKeyInput k;
  k.command = "x509-credential-process";
  k.endpoint = "https://rolesanywhere.us-east-1.amazonaws.com";
  k.region = "us-east-1";
  k.trust_anchor_arn = "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/ta";
  k.profile_arn = "arn:aws:rolesanywhere:us-east-1:123456789012:profile/p";
  k.role_arn = "arn:aws:iam::123456789012:role/r";
  k.duration_seconds = 3600;
  k.spiffe_id = "spiffe://example.org/w";
  k.svid_serial = "12345";
  return k;
}

creds::Credentials sample_credentials(system_clock::time_point expires) {
  creds::Credentials c;
  c.access_key_id = "ASIAEXAMPLE";
  c.secret_access_key = "secret/key+value";
  c.session_token = "token==";
  c.expiration = util::format_rfc3339(expires);
  return c;
}

struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "awh-cache-test-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

void write(const std::string& path, const std::string& text, mode_t mode = 0600) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  REQUIRE(fchmod(fd, mode) == 0);
  close(fd);
}

}  // namespace

TEST_CASE("cache key: a SHA-256 hex over every field; any change makes another key") {
  const auto base = sample_key();
  const auto key = creds::cache_key(base);
  CHECK(key.size() == 64);
  CHECK(key.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(creds::cache_key(base) == key);  // stable

  std::vector<std::function<void(creds::CacheKeyInput&)>> changes{
      [](auto& k) { k.command = "jwt-credential-process"; },
      [](auto& k) { k.endpoint = "https://other"; },
      [](auto& k) { k.region = "eu-west-1"; },
      [](auto& k) { k.trust_anchor_arn += "x"; },
      [](auto& k) { k.profile_arn += "x"; },
      [](auto& k) { k.role_arn += "x"; },
      [](auto& k) { k.audience = "sts.amazonaws.com"; },
      [](auto& k) { k.duration_seconds = 900; },
      [](auto& k) { k.role_session_name = "s"; },
      [](auto& k) { k.spiffe_id = "spiffe://example.org/other"; },
      [](auto& k) { k.svid_serial = "12346"; },  // a rotated SVID
      [](auto& k) { k.jwt_expiry = 1; },
  };
  std::set<std::string> keys{key};
  for (const auto& change : changes) {
    auto k = base;
    change(k);
    keys.insert(creds::cache_key(k));
  }
  CHECK(keys.size() == changes.size() + 1);

  // Fields can't bleed into each other: moving a character across a boundary changes the key.
  auto a = base, b = base;
  a.profile_arn = "ab";
  a.role_arn = "c";
  b.profile_arn = "a";
  b.role_arn = "bc";
  CHECK(creds::cache_key(a) != creds::cache_key(b));
}

TEST_CASE("an entry is reused only while more than 16 minutes remain") {
  const auto now = system_clock::now();
  CHECK(creds::cache_reusable(now + minutes(60), now));
  CHECK(creds::cache_reusable(now + minutes(16) + seconds(1), now));
  CHECK_FALSE(creds::cache_reusable(now + minutes(16), now));
  CHECK_FALSE(creds::cache_reusable(now + minutes(15), now));
  CHECK_FALSE(creds::cache_reusable(now - minutes(1), now));
}

TEST_CASE("entries: credential_process JSON both ways; anything else is ignored") {
  const auto expires = time_point_cast<seconds>(system_clock::now() + hours(1));
  const auto c = sample_credentials(expires);
  const auto text = creds::serialize_cache_entry(c);
  CHECK(text == creds::credential_process_json(c));
  auto back = creds::parse_cache_entry(text);
  REQUIRE(back);
  CHECK(back->credentials.access_key_id == c.access_key_id);
  CHECK(back->credentials.secret_access_key == c.secret_access_key);
  CHECK(back->credentials.session_token == c.session_token);
  CHECK(back->credentials.expiration == c.expiration);
  CHECK(back->expiration == expires);

  for (
      const std::string& bad : std::vector<std::string>{
          "",
          "not json",
          "[]",
          text.substr(0, text.size() / 2),  // a torn write
          R"({"Version":2,"AccessKeyId":"a","SecretAccessKey":"s","SessionToken":"t","Expiration":"2030-01-01T00:00:00Z"})",
          R"({"AccessKeyId":"a","SecretAccessKey":"s","SessionToken":"t","Expiration":"2030-01-01T00:00:00Z"})",
          R"({"Version":1,"AccessKeyId":"a","SecretAccessKey":"s","Expiration":"2030-01-01T00:00:00Z"})",
          R"({"Version":1,"AccessKeyId":"a","SecretAccessKey":"","SessionToken":"t","Expiration":"2030-01-01T00:00:00Z"})",
          R"({"Version":1,"AccessKeyId":"a","SecretAccessKey":"s","SessionToken":"t","Expiration":"soon"})",
          R"({"Version":1,"AccessKeyId":1,"SecretAccessKey":"s","SessionToken":"t","Expiration":"2030-01-01T00:00:00Z"})",
      }) {
    CAPTURE(bad);
    CHECK_FALSE(creds::parse_cache_entry(bad));
  }
}

TEST_CASE("the default directory: $XDG_RUNTIME_DIR, else /tmp with the uid") {
  CHECK(creds::default_cache_dir(std::string("/run/user/1000"), 1000) ==
        "/run/user/1000/aws-spiffe-workload-helper");
  CHECK(creds::default_cache_dir(std::nullopt, 1000) == "/tmp/aws-spiffe-workload-helper-1000");
  CHECK(creds::default_cache_dir(std::string(""), 7) == "/tmp/aws-spiffe-workload-helper-7");
  // The XDG spec: a relative path is to be ignored.
  CHECK(creds::default_cache_dir(std::string("run/user"), 7) ==
        "/tmp/aws-spiffe-workload-helper-7");
}

TEST_CASE("the cache directory: created 0700; a symlink, a file or an open mode is refused") {
  TempDir tmp;
  const std::string dir = tmp.path + "/cache";
  REQUIRE(creds::prepare_cache_dir(dir).has_value());
  CHECK(mode_of(dir) == 0700);
  CHECK(creds::prepare_cache_dir(dir).has_value());  // again: fine

  SUBCASE("group/world access") {
    REQUIRE(chmod(dir.c_str(), 0755) == 0);
    auto r = creds::prepare_cache_dir(dir);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("is accessible by group or others (mode 0755)") !=
          std::string::npos);
    CHECK(r.error().cls == errc::file);
  }
  SUBCASE("a symlink to a good directory") {
    REQUIRE(symlink(dir.c_str(), (tmp.path + "/link").c_str()) == 0);
    auto r = creds::prepare_cache_dir(tmp.path + "/link");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("is a symlink") != std::string::npos);
  }
  SUBCASE("a file") {
    write(tmp.path + "/file", "x");
    auto r = creds::prepare_cache_dir(tmp.path + "/file");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("is not a directory") != std::string::npos);
  }
  SUBCASE("a missing parent") {
    auto r = creds::prepare_cache_dir(tmp.path + "/no/such");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("cannot be created") != std::string::npos);
  }
}

TEST_CASE("the store: 0600 entries; unsafe or corrupt entries are ignored; the lock is exclusive") {
  TempDir tmp;
  REQUIRE(creds::prepare_cache_dir(tmp.path + "/c").has_value());
  const creds::CacheStore store(tmp.path + "/c");
  const std::string key(64, 'a');
  CHECK_FALSE(store.read(key));

  const auto c = sample_credentials(system_clock::now() + hours(1));
  REQUIRE(store.write(key, c).has_value());
  CHECK(mode_of(store.entry_path(key)) == 0600);
  auto got = store.read(key);
  REQUIRE(got.has_value());
  CHECK(got->credentials.session_token == c.session_token);

  const std::string text = creds::serialize_cache_entry(c);
  SUBCASE("group-readable") {
    write(store.entry_path(key), text, 0640);
    CHECK_FALSE(store.read(key));
  }
  SUBCASE("a symlink to a good entry") {
    write(tmp.path + "/elsewhere", text, 0600);
    fs::remove(store.entry_path(key));
    REQUIRE(symlink((tmp.path + "/elsewhere").c_str(), store.entry_path(key).c_str()) == 0);
    CHECK_FALSE(store.read(key));
  }
  SUBCASE("corrupt, then replaced by a write") {
    write(store.entry_path(key), "{\"Version\":1,", 0600);
    CHECK_FALSE(store.read(key));
    REQUIRE(store.write(key, c).has_value());
    CHECK(store.read(key));
  }
  SUBCASE("a FIFO does not block the reader") {
    fs::remove(store.entry_path(key));
    REQUIRE(mkfifo(store.entry_path(key).c_str(), 0600) == 0);
    CHECK_FALSE(store.read(key));
  }
  SUBCASE("the lock") {
    auto first = store.try_lock(key);
    REQUIRE(first.has_value());
    REQUIRE(first->has_value());
    auto second = store.try_lock(key);  // another open file description: excluded
    REQUIRE(second.has_value());
    CHECK_FALSE(second->has_value());
    first->reset();
    auto third = store.try_lock(key);
    REQUIRE(third.has_value());
    CHECK(third->has_value());
  }
}

namespace {

class CountingExchanger final : public engine::Exchanger {
 public:
  asio::awaitable<Result<creds::Credentials>> exchange(const engine::Identity&,
                                                       engine::Deadline) override {
    ++calls;
    if (fail) co_return make_error(errc::denied, "AccessDeniedException: no");
    auto c = sample_credentials(expires);
    c.access_key_id = "ASIA" + std::to_string(calls);
    co_return c;
  }
  std::string describe() const override { return "fake"; }
  int calls = 0;
  bool fail = false;
  system_clock::time_point expires = system_clock::now() + hours(1);
};

class FixedClock final : public engine::Clock {
 public:
  engine::Now now() override { return {steady_clock::now(), wall}; }
  system_clock::time_point wall = system_clock::now();
};

engine::Identity x509_identity(const std::string& serial) {
  auto svid = std::make_shared<spiffe::X509Svid>();
  svid->spiffe_id = "spiffe://example.org/w";
  svid->serial_decimal = serial;
  engine::Identity id;
  id.x509 = svid;
  id.spiffe_id = svid->spiffe_id;
  id.description = "X.509-SVID " + serial;
  return id;
}

Result<creds::Credentials> run_exchange(engine::Exchanger& e, const engine::Identity& id) {
  asio::io_context io;
  auto f = asio::co_spawn(io, e.exchange(id, steady_clock::now() + seconds(5)), asio::use_future);
  io.run();
  return f.get();
}

}  // namespace

TEST_CASE("the cache step: a hit skips the exchange; rotation, expiry and corruption don't") {
  TempDir tmp;
  REQUIRE(creds::prepare_cache_dir(tmp.path + "/c").has_value());
  CountingExchanger inner;
  FixedClock clock;
  engine::CachingExchanger cached(inner, creds::CacheStore(tmp.path + "/c"), sample_key(), clock,
                                  milliseconds(500));
  auto first = run_exchange(cached, x509_identity("1"));
  REQUIRE(first.has_value());
  CHECK(inner.calls == 1);
  auto second = run_exchange(cached, x509_identity("1"));
  REQUIRE(second.has_value());
  CHECK(inner.calls == 1);
  CHECK(second->access_key_id == first->access_key_id);
  CHECK(second->secret_access_key == first->secret_access_key);

  // A rotated SVID (new serial): a new exchange.
  auto rotated = run_exchange(cached, x509_identity("2"));
  REQUIRE(rotated.has_value());
  CHECK(inner.calls == 2);
  CHECK(rotated->access_key_id == "ASIA2");

  // 16 minutes or less left: renewed.
  clock.wall = inner.expires - minutes(16);
  auto renewed = run_exchange(cached, x509_identity("1"));
  REQUIRE(renewed.has_value());
  CHECK(inner.calls == 3);
  CHECK(renewed->access_key_id == "ASIA3");

  // A corrupt entry: ignored and replaced.
  clock.wall = system_clock::now();
  inner.expires = system_clock::now() + hours(1);
  for (const auto& f : fs::directory_iterator(tmp.path + "/c")) {
    if (f.path().extension() == ".json") write(f.path().string(), "garbage", 0600);
  }
  REQUIRE(run_exchange(cached, x509_identity("1")).has_value());
  REQUIRE(run_exchange(cached, x509_identity("2")).has_value());
  CHECK(inner.calls == 5);
  REQUIRE(run_exchange(cached, x509_identity("1")).has_value());
  CHECK(inner.calls == 5);

  // A failed exchange is not cached, and is the result.
  inner.fail = true;
  auto failed = run_exchange(cached, x509_identity("3"));
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().message == "AccessDeniedException: no");
}

TEST_CASE("the cache step: a lock held elsewhere is waited for, boundedly") {
  TempDir tmp;
  REQUIRE(creds::prepare_cache_dir(tmp.path + "/c").has_value());
  CountingExchanger inner;
  FixedClock clock;
  const creds::CacheStore store(tmp.path + "/c");
  engine::CachingExchanger cached(inner, store, sample_key(), clock, milliseconds(300));
  const auto id = x509_identity("1");
  const auto key = creds::cache_key(engine::cache_key_for(sample_key(), id));

  SUBCASE("the holder fills the entry: no exchange of our own") {
    auto held = store.try_lock(key);
    REQUIRE(held.has_value());
    REQUIRE(held->has_value());
    asio::io_context io;
    auto f =
        asio::co_spawn(io, cached.exchange(id, steady_clock::now() + seconds(5)), asio::use_future);
    io.run_for(milliseconds(50));  // waiting for the lock
    REQUIRE(store.write(key, sample_credentials(system_clock::now() + hours(1))).has_value());
    held->reset();
    io.run();
    auto got = f.get();
    REQUIRE(got.has_value());
    CHECK(inner.calls == 0);
    CHECK(got->access_key_id == "ASIAEXAMPLE");
  }
  SUBCASE("the lock is never released: we exchange after the wait") {
    auto held = store.try_lock(key);
    REQUIRE(held.has_value());
    const auto start = steady_clock::now();
    auto got = run_exchange(cached, id);
    REQUIRE(got.has_value());
    CHECK(inner.calls == 1);
    CHECK(steady_clock::now() - start >= milliseconds(300));
    CHECK(steady_clock::now() - start < seconds(3));
  }
}

TEST_CASE("clean-up: entries past use and their locks go; live, held and foreign files stay") {
  CHECK_FALSE(creds::cache_sweepable(system_clock::now() - minutes(59), system_clock::now()));
  CHECK(creds::cache_sweepable(system_clock::now() - minutes(61), system_clock::now()));

  TempDir tmp;
  const std::string dir = tmp.path + "/c";
  REQUIRE(creds::prepare_cache_dir(dir).has_value());
  const creds::CacheStore store(dir);
  const auto now = system_clock::now();
  const auto key = [](char c) { return std::string(64, c); };
  const auto age = [](const std::string& path, system_clock::duration by) {
    const auto t = system_clock::to_time_t(system_clock::now() - by);
    const timespec times[2] = {{t, 0}, {t, 0}};
    REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
  };
  const auto with_lock = [&](const std::string& k) {
    auto lock = store.try_lock(k);  // leaves the lock file behind, as every run does
    REQUIRE(lock.has_value());
    REQUIRE(lock->has_value());
  };
  // Keys are hex: a: expired two hours ago; b: expired 30 minutes ago; c: live.
  REQUIRE(store.write(key('a'), sample_credentials(now - hours(2))).has_value());
  REQUIRE(store.write(key('b'), sample_credentials(now - minutes(30))).has_value());
  REQUIRE(store.write(key('c'), sample_credentials(now + hours(1))).has_value());
  for (char k : {'a', 'b', 'c'}) with_lock(key(k));
  // d: corrupt and old; e: corrupt and new.
  write(store.entry_path(key('d')), "{\"Version\":1,");
  age(store.entry_path(key('d')), hours(2));
  write(store.entry_path(key('e')), "{\"Version\":1,");
  // f: a lock without an entry, old; 7: the same, new.
  with_lock(key('f'));
  age(store.lock_path(key('f')), hours(2));
  with_lock(key('7'));
  // Not ours to remove: files not named like keys, and a symlink named like one.
  write(dir + "/notes.json", "{}");
  age(dir + "/notes.json", hours(5));
  write(tmp.path + "/target", creds::serialize_cache_entry(sample_credentials(now - hours(3))));
  REQUIRE(symlink((tmp.path + "/target").c_str(), store.entry_path(key('1')).c_str()) == 0);
  // 9: expired long ago, but its lock is held by a run right now.
  REQUIRE(store.write(key('9'), sample_credentials(now - hours(2))).has_value());
  auto held = store.try_lock(key('9'));
  REQUIRE(held.has_value());
  REQUIRE(held->has_value());

  CHECK(store.sweep(now) == 3);  // a, d, f
  for (char gone : {'a', 'd', 'f'}) {
    CAPTURE(gone);
    CHECK_FALSE(fs::exists(store.entry_path(key(gone))));
    CHECK_FALSE(fs::exists(store.lock_path(key(gone))));
  }
  for (char kept : {'b', 'c', 'e', '9'}) {
    CAPTURE(kept);
    CHECK(fs::exists(store.entry_path(key(kept))));
  }
  CHECK(fs::exists(store.lock_path(key('7'))));
  CHECK(fs::exists(store.lock_path(key('9'))));
  CHECK(fs::exists(dir + "/notes.json"));
  CHECK(fs::is_symlink(store.entry_path(key('1'))));
  CHECK(store.read(key('c')).has_value());

  // Released, 9 goes at the next sweep; a key swept away locks again as new.
  held->reset();
  CHECK(store.sweep(now) == 1);
  CHECK_FALSE(fs::exists(store.entry_path(key('9'))));
  auto again = store.try_lock(key('a'));
  REQUIRE(again.has_value());
  CHECK(again->has_value());
}

TEST_CASE("clean-up racing the lock: one holder at a time while sweeps unlink lock files") {
  TempDir tmp;
  const std::string dir = tmp.path + "/c";
  REQUIRE(creds::prepare_cache_dir(dir).has_value());
  const creds::CacheStore store(dir);
  const std::string key(64, 'b');
  // Every lock file is past use for a sweep that runs "two hours from now".
  const auto later = system_clock::now() + hours(2);
  std::atomic<int> holders{0};
  std::atomic<bool> overlap{false};
  std::atomic<int> held{0};
  std::atomic<std::size_t> swept{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 400; ++i) {
        if ((i + t) % 3 == 0) {
          swept += store.sweep(later);
          continue;
        }
        auto lock = store.try_lock(key);
        if (!lock || !*lock) continue;
        ++held;
        if (holders.fetch_add(1) != 0) overlap = true;
        std::this_thread::yield();
        holders.fetch_sub(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK_FALSE(overlap.load());
  CHECK(held.load() > 0);
  CHECK(swept.load() > 0);
  MESSAGE("locks taken: ", held.load(), ", lock files swept: ", swept.load());
}

TEST_CASE("the cache step clears out entries past use when it writes") {
  TempDir tmp;
  const std::string dir = tmp.path + "/c";
  REQUIRE(creds::prepare_cache_dir(dir).has_value());
  const creds::CacheStore store(dir);
  const std::string old(64, 'e');
  REQUIRE(store.write(old, sample_credentials(system_clock::now() - hours(3))).has_value());
  CountingExchanger inner;
  FixedClock clock;
  engine::CachingExchanger cached(inner, creds::CacheStore(dir), sample_key(), clock,
                                  milliseconds(100));
  // A hit writes nothing, so it sweeps nothing; a miss writes, and sweeps.
  REQUIRE(run_exchange(cached, x509_identity("1")).has_value());
  CHECK(inner.calls == 1);
  CHECK_FALSE(fs::exists(store.entry_path(old)));
  CHECK_FALSE(fs::exists(store.lock_path(old)));
  REQUIRE(run_exchange(cached, x509_identity("1")).has_value());
  CHECK(inner.calls == 1);
  // Left: the entry, its lock and its writer's lock.
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 3);
}
