#include <doctest/doctest.h>

#include <cerrno>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "util/atomic_file.hpp"

namespace fs = std::filesystem;
using awh::util::AtomicWriteOptions;
using awh::util::prepare_directory;
using awh::util::read_file_if_exists;
using awh::util::write_file_atomically;

namespace {

// A fresh directory per test, removed afterwards even if a test left parts of it read-only.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "awh-atomic-file-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    for (auto it = fs::recursive_directory_iterator(path_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) {
        fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
      }
    }
    fs::remove_all(path_, ec);
  }

  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t mask) : old_(::umask(mask)) {}
  UmaskGuard(const UmaskGuard&) = delete;
  UmaskGuard& operator=(const UmaskGuard&) = delete;
  ~UmaskGuard() { ::umask(old_); }

 private:
  mode_t old_;
};

bool is_root() { return ::geteuid() == 0; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
  REQUIRE(out.good());
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Names of temp files anywhere under `dir`.
std::vector<std::string> leftovers(const std::string& dir) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.find(".tmp-") != std::string::npos) found.push_back(entry.path().string());
  }
  return found;
}

// "" on success, else the error message, so that a failed check shows why.
template <class T>
std::string failure(const awh::Result<T>& r) {
  return r ? std::string() : r.error().message;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("a new file is created with exactly the requested mode, whatever the umask") {
  TempDir dir;
  for (const mode_t mask : {0000, 0022, 0077}) {
    CAPTURE(mask);
    const UmaskGuard guard(mask);
    const std::string path = dir / ("creds-" + std::to_string(mask));
    REQUIRE(failure(write_file_atomically(path, "secret")) == "");
    CHECK(mode_of(path) == 0600);
    CHECK(slurp(path) == "secret");

    // The umask must not reduce a wider requested mode either.
    const std::string shared = path + "-shared";
    REQUIRE(failure(write_file_atomically(shared, "x", AtomicWriteOptions{0644, 0700})) == "");
    CHECK(mode_of(shared) == 0644);
  }
  CHECK(leftovers(dir.path()).empty());
}

TEST_CASE("missing parent directories are created 0700, whatever the umask") {
  TempDir dir;
  for (const mode_t mask : {0000, 0077}) {
    CAPTURE(mask);
    const UmaskGuard guard(mask);
    const std::string top = dir / ("a" + std::to_string(mask));
    const std::string path = top + "/b/credentials";
    REQUIRE(failure(write_file_atomically(path, "data")) == "");
    CHECK(fs::is_directory(top));
    CHECK(mode_of(top) == 0700);
    CHECK(mode_of(top + "/b") == 0700);
    CHECK(mode_of(path) == 0600);
    CHECK(slurp(path) == "data");
  }
}

TEST_CASE("an existing file of ours keeps a safe mode and gets the new contents") {
  TempDir dir;
  const std::string path = dir / "credentials";
  spit(path, "old contents that are longer than the new ones");
  REQUIRE(::chmod(path.c_str(), 0640) == 0);

  REQUIRE(failure(write_file_atomically(path, "new")) == "");
  CHECK(slurp(path) == "new");
  CHECK(mode_of(path) == 0640);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(st.st_uid == ::geteuid());
  CHECK(leftovers(dir.path()).empty());
}

TEST_CASE("writing through a symlink replaces its target and keeps the link") {
  TempDir dir;
  const std::string target = dir / "real-credentials";
  const std::string link = dir / "credentials";
  spit(target, "old");
  REQUIRE(::chmod(target.c_str(), 0640) == 0);
  REQUIRE(::symlink("real-credentials", link.c_str()) == 0);

  REQUIRE(failure(write_file_atomically(link, "new")) == "");
  CHECK(fs::is_symlink(link));
  CHECK(fs::read_symlink(link) == "real-credentials");
  CHECK(slurp(target) == "new");
  CHECK(mode_of(target) == 0640);
  CHECK(leftovers(dir.path()).empty());
}

TEST_CASE("a dangling symlink is an error and is left alone") {
  TempDir dir;
  const std::string link = dir / "credentials";
  REQUIRE(::symlink("missing/file", link.c_str()) == 0);

  const auto r = write_file_atomically(link, "new");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().cls == awh::errc::file);
  CHECK(r.error().sys_errno == ENOENT);  // the system's own code travels with the error
  CHECK(contains(r.error().message, link));
  CHECK(contains(r.error().message, "(the file was not changed)"));
  CHECK(fs::is_symlink(link));
  CHECK(leftovers(dir.path()).empty());
}

TEST_CASE("a failure after the temp file was created leaves no temp file and changes nothing") {
  // rename() of a file over a non-empty directory fails even for root, after the temp file was
  // written and synced: this exercises the clean-up path on any machine.
  TempDir dir;
  const std::string path = dir / "credentials";
  REQUIRE(fs::create_directory(path));
  spit(path + "/inside", "keep");

  const auto r = write_file_atomically(path, "new");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().cls == awh::errc::file);
  CHECK(contains(r.error().message, "cannot write " + path + ": "));
  CHECK(contains(r.error().message, "(the file was not changed)"));
  CHECK(fs::is_directory(path));
  CHECK(slurp(path + "/inside") == "keep");
  CHECK(leftovers(dir.path()).empty());
}

TEST_CASE("a read-only directory fails with Permission denied and changes nothing") {
  if (is_root()) {
    MESSAGE("running as root, which bypasses directory permissions: read-only check skipped");
    return;
  }
  TempDir dir;
  const std::string sub = dir / "ro";
  const std::string path = sub + "/credentials";
  REQUIRE(fs::create_directory(sub));
  spit(path, "original bytes");
  REQUIRE(::chmod(sub.c_str(), 0500) == 0);

  const auto r = write_file_atomically(path, "new");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().cls == awh::errc::file);
  CHECK(contains(r.error().message, path));
  CHECK(contains(r.error().message, "Permission denied"));
  CHECK(contains(r.error().message, "(the file was not changed)"));
  CHECK(slurp(path) == "original bytes");
  CHECK(leftovers(dir.path()).empty());

  // A missing subdirectory under the read-only one cannot be created either.
  const auto nested = write_file_atomically(sub + "/new/credentials", "new");
  REQUIRE_FALSE(nested.has_value());
  CHECK(contains(nested.error().message, "creating directory " + sub + "/new"));
  CHECK(contains(nested.error().message, "Permission denied"));
  REQUIRE(::chmod(sub.c_str(), 0700) == 0);
}

TEST_CASE("a parent that is a regular file is a clear error") {
  TempDir dir;
  const std::string file = dir / "file";
  spit(file, "not a directory");

  const auto r = write_file_atomically(file + "/credentials", "new");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().cls == awh::errc::file);
  CHECK(contains(r.error().message, file + "/credentials"));
  CHECK(contains(r.error().message, file + ": Not a directory"));
  CHECK(slurp(file) == "not a directory");

  // Also when the regular file is higher up.
  const auto deeper = write_file_atomically(file + "/a/credentials", "new");
  REQUIRE_FALSE(deeper.has_value());
  CHECK(contains(deeper.error().message, "Not a directory"));
  CHECK(leftovers(dir.path()).empty());
}

TEST_CASE("paths that name no file are rejected") {
  TempDir dir;
  for (const std::string& path : {std::string(), dir.path() + "/", dir / "."}) {
    CAPTURE(path);
    const auto r = write_file_atomically(path, "x");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().cls == awh::errc::invalid_input);
  }
}

TEST_CASE("a bare file name is written in the current directory") {
  TempDir dir;
  const auto old_cwd = fs::current_path();
  fs::current_path(dir.path());
  const auto r = write_file_atomically("credentials", "here");
  fs::current_path(old_cwd);
  REQUIRE(r.has_value());
  CHECK(slurp(dir / "credentials") == "here");
  CHECK(leftovers(dir.path()).empty());
}

TEST_CASE("empty contents") {
  TempDir dir;
  const std::string path = dir / "credentials";
  REQUIRE(failure(write_file_atomically(path, "")) == "");
  CHECK(fs::file_size(path) == 0);

  spit(path, "something");
  REQUIRE(failure(write_file_atomically(path, "")) == "");
  CHECK(fs::file_size(path) == 0);
  const auto read = read_file_if_exists(path);
  REQUIRE(read.has_value());
  REQUIRE(read->has_value());
  CHECK(read->value().empty());
}

TEST_CASE("1 MiB of arbitrary bytes round-trips") {
  TempDir dir;
  const std::string path = dir / "big";
  std::string big(1 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131 + i / 7) & 0xff);

  REQUIRE(failure(write_file_atomically(path, big)) == "");
  const auto read = read_file_if_exists(path);
  REQUIRE(read.has_value());
  REQUIRE(read->has_value());
  CHECK(read->value() == big);
  CHECK(leftovers(dir.path()).empty());
}

TEST_CASE("read_file_if_exists") {
  TempDir dir;
  const std::string path = dir / "file";

  SUBCASE("a missing file is nullopt, not an error") {
    const auto r = read_file_if_exists(path);
    REQUIRE(r.has_value());
    CHECK_FALSE(r->has_value());
  }
  SUBCASE("a present file is read whole") {
    spit(path, std::string("a\0b\nc", 5));
    const auto r = read_file_if_exists(path);
    REQUIRE(r.has_value());
    REQUIRE(r->has_value());
    CHECK(r->value() == std::string("a\0b\nc", 5));
  }
  SUBCASE("a directory is an error naming it") {
    const auto r = read_file_if_exists(dir.path());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().cls == awh::errc::file);
    CHECK(r.error().message == "cannot read " + dir.path() + ": Is a directory");
  }
  SUBCASE("a file over max_size is an error; exactly max_size is fine") {
    spit(path, std::string(100, 'x'));
    const auto over = read_file_if_exists(path, 99);
    REQUIRE_FALSE(over.has_value());
    CHECK(over.error().cls == awh::errc::file);
    CHECK(contains(over.error().message, path));
    CHECK(contains(over.error().message, "larger than 99 bytes"));
    const auto exact = read_file_if_exists(path, 100);
    REQUIRE(exact.has_value());
    CHECK(exact->value().size() == 100);
  }
}

TEST_CASE("prepare_directory creates missing directories 0700 and checks they are writable") {
  TempDir dir;
  const UmaskGuard guard(0022);
  const std::string path = dir / "a/b/credentials";

  REQUIRE(failure(prepare_directory(path)) == "");
  CHECK(mode_of(dir / "a") == 0700);
  CHECK(mode_of(dir / "a/b") == 0700);
  CHECK_FALSE(fs::exists(path));
  REQUIRE(failure(prepare_directory(path)) == "");  // idempotent

  const std::string file = dir / "file";
  spit(file, "x");
  const auto not_dir = prepare_directory(file + "/credentials");
  REQUIRE_FALSE(not_dir.has_value());
  CHECK(contains(not_dir.error().message, "Not a directory"));

  if (is_root()) {
    MESSAGE("running as root, which bypasses directory permissions: read-only check skipped");
    return;
  }
  REQUIRE(::chmod((dir / "a/b").c_str(), 0500) == 0);
  const auto r = prepare_directory(path);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().cls == awh::errc::file);
  CHECK(r.error().message == "cannot write " + path + ": directory " + dir.path() +
                                 "/a/b is not writable: Permission denied");
  REQUIRE(::chmod((dir / "a/b").c_str(), 0700) == 0);
}

TEST_CASE("a concurrent reader sees the old file or the new one, never a mix") {
  TempDir dir;
  const std::string path = dir / "credentials";
  const std::string small(1000, 's');
  const std::string large(300 * 1000, 'L');
  REQUIRE(failure(write_file_atomically(path, small)) == "");

  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!done) {
      const auto r = read_file_if_exists(path);
      if (!r || !r->has_value() || (r->value() != small && r->value() != large)) ++torn;
      ++reads;
    }
  });
  while (reads == 0) std::this_thread::yield();

  int failed_writes = 0;
  for (int i = 0; i < 200; ++i) {
    if (!write_file_atomically(path, i % 2 == 0 ? large : small)) ++failed_writes;
  }
  done = true;
  reader.join();

  CHECK(failed_writes == 0);
  CHECK(torn == 0);
  CHECK(reads > 0);
  CHECK(slurp(path) == small);
  CHECK(leftovers(dir.path()).empty());
}

// ---- Hostile paths (README, "How it is written"). Many need root to give files to another user:
// they run as root here and print why they are skipped otherwise.

namespace {

constexpr uid_t kOtherUid = 65534;  // "nobody"

bool need_root(const char* what) {
  if (is_root()) return true;
  MESSAGE("skipped (not root, can't create files of another user): ", what);
  return false;
}

uid_t owner_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_uid;
}

// Runs `f` in a child process and reports whether it finished within `limit` (a call that
// blocks forever would otherwise hang the test run); the child's exit code is f()'s.
std::optional<int> in_child(const std::function<int()>& f, std::chrono::milliseconds limit) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) ::_exit(f());
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("a symlink planted by another user is never followed, at the target or a parent") {
  if (!need_root("symlinks owned by another user")) return;
  TempDir dir;
  const std::string victim = dir / "victim";
  spit(victim, "root's file");
  REQUIRE(::chmod(victim.c_str(), 0755) == 0);

  SUBCASE("at the target") {
    const std::string link = dir / "credentials";
    REQUIRE(::symlink(victim.c_str(), link.c_str()) == 0);
    REQUIRE(::lchown(link.c_str(), kOtherUid, kOtherUid) == 0);
    const auto r = write_file_atomically(link, "secret");
    REQUIRE_FALSE(r.has_value());
    CHECK(contains(r.error().message, "symlink " + link + " is owned by uid 65534"));
    CHECK(contains(r.error().message, "(the file was not changed)"));
    CHECK(fs::is_symlink(link));
    CHECK_FALSE(prepare_directory(link).has_value());
  }
  SUBCASE("at a parent directory") {
    const std::string real = dir / "real";
    REQUIRE(fs::create_directory(real));
    const std::string link = dir / "aws";
    REQUIRE(::symlink(real.c_str(), link.c_str()) == 0);
    REQUIRE(::lchown(link.c_str(), kOtherUid, kOtherUid) == 0);
    const auto r = write_file_atomically(link + "/credentials", "secret");
    REQUIRE_FALSE(r.has_value());
    CHECK(contains(r.error().message, "symlink " + link + " is owned by uid 65534"));
    CHECK_FALSE(fs::exists(real + "/credentials"));
  }
  SUBCASE("our symlink to a file of another user") {
    const std::string theirs = dir / "theirs";
    spit(theirs, "their file");
    REQUIRE(::chown(theirs.c_str(), kOtherUid, kOtherUid) == 0);
    const std::string link = dir / "credentials";
    REQUIRE(::symlink(theirs.c_str(), link.c_str()) == 0);
    const auto r = write_file_atomically(link, "secret");
    REQUIRE_FALSE(r.has_value());
    CHECK(contains(r.error().message, "owned by uid 65534"));
    CHECK(slurp(theirs) == "their file");
  }
  CHECK(slurp(victim) == "root's file");
  CHECK(mode_of(victim) == 0755);
}

TEST_CASE("a file another user pre-created is refused, or replaced by a new file of ours") {
  if (!need_root("a file owned by another user")) return;
  TempDir dir;
  const std::string path = dir / "credentials";
  spit(path, "[other]\nkey = theirs\n");
  REQUIRE(::chmod(path.c_str(), 0666) == 0);
  REQUIRE(::chown(path.c_str(), kOtherUid, kOtherUid) == 0);

  const auto r = write_file_atomically(path, "secret");
  REQUIRE_FALSE(r.has_value());
  CHECK(contains(r.error().message, "is owned by uid 65534"));
  CHECK(slurp(path) == "[other]\nkey = theirs\n");
  CHECK_FALSE(prepare_directory(path).has_value());

  AtomicWriteOptions force;
  force.replace_foreign = true;
  REQUIRE(failure(prepare_directory(path, force)) == "");
  bool saw_existing = true;
  REQUIRE(
      failure(awh::util::update_file_atomically(
          path,
          [&](std::optional<std::string_view> existing) -> awh::Result<awh::util::SecretString> {
            saw_existing = existing.has_value();
            return awh::util::SecretString("secret");
          },
          force)) == "");
  CHECK_FALSE(saw_existing);  // its contents are not ours to keep
  CHECK(slurp(path) == "secret");
  CHECK(owner_of(path) == ::geteuid());
  CHECK(mode_of(path) == 0600);
}

TEST_CASE("an existing file's mode is kept only without world access or group write") {
  TempDir dir;
  const std::string path = dir / "credentials";
  for (const auto& [before, after] : std::vector<std::pair<mode_t, mode_t>>{{0600, 0600},
                                                                            {0640, 0640},
                                                                            {0400, 0400},
                                                                            {0644, 0640},
                                                                            {0660, 0640},
                                                                            {0666, 0640},
                                                                            {0604, 0600},
                                                                            {0777, 0640},
                                                                            {04750, 0750}}) {
    CAPTURE(before);
    spit(path, "x");
    REQUIRE(::chmod(path.c_str(), before) == 0);
    REQUIRE(failure(write_file_atomically(path, "y")) == "");
    CHECK(mode_of(path) == after);
  }
}

TEST_CASE("non-regular targets are refused and never opened in a blocking way") {
  TempDir dir;
  SUBCASE("a symlink to a character device (/dev/null)") {
    const std::string link = dir / "credentials";
    REQUIRE(::symlink("/dev/null", link.c_str()) == 0);
    const auto r = write_file_atomically(link, "secret");
    REQUIRE_FALSE(r.has_value());
    CHECK(contains(r.error().message, "/dev/null is a character device, not a regular file"));
    CHECK_FALSE(prepare_directory(link).has_value());
    struct stat st {};
    REQUIRE(::stat("/dev/null", &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
  }
  SUBCASE("a FIFO: refused at once, for writing and for reading") {
    const std::string fifo = dir / "credentials";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const auto code = in_child(
        [&] {
          const auto w = write_file_atomically(fifo, "secret");
          const auto p = prepare_directory(fifo);
          const auto r = read_file_if_exists(fifo);
          const bool ok = !w && contains(w.error().message, "is a FIFO, not a regular file") &&
                          !p && !r && contains(r.error().message, "a FIFO");
          return ok ? 0 : 1;
        },
        std::chrono::seconds(5));
    REQUIRE_MESSAGE(code.has_value(), "the writer blocked on a FIFO");
    CHECK(*code == 0);
  }
  SUBCASE("a directory") {
    const std::string sub = dir / "sub";
    REQUIRE(fs::create_directory(sub));
    const auto r = prepare_directory(sub);
    REQUIRE_FALSE(r.has_value());
    CHECK(contains(r.error().message, "is a directory, not a regular file"));
  }
}

TEST_CASE("directories writable by other users are refused unless sticky") {
  TempDir dir;
  const std::string open_dir = dir / "open";
  REQUIRE(fs::create_directory(open_dir));
  REQUIRE(::chmod(open_dir.c_str(), 0777) == 0);
  const auto r = write_file_atomically(open_dir + "/credentials", "secret");
  REQUIRE_FALSE(r.has_value());
  CHECK(contains(r.error().message, "directory " + open_dir + " is writable by other users"));
  CHECK_FALSE(fs::exists(open_dir + "/credentials"));
  // Also higher up the path.
  CHECK_FALSE(write_file_atomically(open_dir + "/a/credentials", "secret").has_value());
  CHECK_FALSE(fs::exists(open_dir + "/a"));

  const std::string sticky = dir / "sticky";
  REQUIRE(fs::create_directory(sticky));
  REQUIRE(::chmod(sticky.c_str(), 01777) == 0);
  REQUIRE(failure(write_file_atomically(sticky + "/credentials", "secret")) == "");
  CHECK(slurp(sticky + "/credentials") == "secret");
  if (need_root("a file of another user in a sticky directory")) {
    const std::string theirs = sticky + "/theirs";
    spit(theirs, "x");
    REQUIRE(::chown(theirs.c_str(), kOtherUid, kOtherUid) == 0);
    CHECK_FALSE(write_file_atomically(theirs, "secret").has_value());
    CHECK(slurp(theirs) == "x");
  }
  if (need_root("a directory owned by another user")) {
    const std::string others = dir / "others";
    REQUIRE(fs::create_directory(others));
    REQUIRE(::chown(others.c_str(), kOtherUid, kOtherUid) == 0);
    const auto o = write_file_atomically(others + "/credentials", "secret");
    REQUIRE_FALSE(o.has_value());
    CHECK(contains(o.error().message, "directory " + others + " is owned by uid 65534"));
  }
}

TEST_CASE("temp files of a killed run are removed by the next write") {
  TempDir dir;
  const std::string path = dir / "credentials";
  const std::string stale = dir / ".credentials.tmp-0123456789abcdef";
  spit(stale, "half a secret");
  const std::string unrelated = dir / ".other.tmp-0123456789abcdef";
  spit(unrelated, "not ours to clean");
  REQUIRE(failure(write_file_atomically(path, "secret")) == "");
  CHECK_FALSE(fs::exists(stale));
  CHECK(fs::exists(unrelated));
  CHECK(slurp(path) == "secret");

  // The next write of a file with a wider final mode leaves no temp file of its own either.
  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  REQUIRE(failure(write_file_atomically(path, "again")) == "");
  CHECK(mode_of(path) == 0640);
  CHECK(leftovers(dir.path()) == std::vector<std::string>{unrelated});
}

TEST_CASE("two writers on one file never lose an update") {
  TempDir dir;
  const std::string path = dir / "credentials";
  // Each writer keeps its own counter line in the file; a lost update resets the other's.
  const auto bump = [&](const std::string& key) {
    return awh::util::update_file_atomically(
        path,
        [&](std::optional<std::string_view> existing) -> awh::Result<awh::util::SecretString> {
          std::map<std::string, int> counts;
          std::string text(existing.value_or(""));
          std::istringstream in(text);
          std::string k;
          int v = 0;
          while (in >> k >> v) counts[k] = v;
          ++counts[key];
          std::string out;
          for (const auto& [name, n] : counts) out += name + " " + std::to_string(n) + "\n";
          return awh::util::SecretString(out);
        });
  };
  constexpr int kRounds = 150;
  std::atomic<int> failures{0};
  std::thread a([&] {
    for (int i = 0; i < kRounds; ++i)
      if (!bump("a")) ++failures;
  });
  std::thread b([&] {
    for (int i = 0; i < kRounds; ++i)
      if (!bump("b")) ++failures;
  });
  a.join();
  b.join();
  CHECK(failures == 0);
  CHECK(slurp(path) == "a " + std::to_string(kRounds) + "\nb " + std::to_string(kRounds) + "\n");
  CHECK(leftovers(dir.path()).empty());
}

TEST_CASE("the writer lock is waited for, boundedly") {
  TempDir dir;
  const std::string path = dir / "credentials";
  REQUIRE(failure(write_file_atomically(path, "first")) == "");
  const int held = ::open((dir / ".credentials.lock").c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(held >= 0);
  REQUIRE(::flock(held, LOCK_EX) == 0);
  AtomicWriteOptions options;
  options.lock_wait = std::chrono::milliseconds(200);
  const auto started = std::chrono::steady_clock::now();
  const auto r = write_file_atomically(path, "second", options);
  const auto took = std::chrono::steady_clock::now() - started;
  ::close(held);
  REQUIRE_FALSE(r.has_value());
  CHECK(contains(r.error().message, "another writer has held the lock"));
  CHECK(took >= std::chrono::milliseconds(200));
  CHECK(took < std::chrono::seconds(2));
  CHECK(slurp(path) == "first");
  REQUIRE(failure(write_file_atomically(path, "second", options)) == "");
}

TEST_CASE("shared_directory_ok (serve's token on an emptyDir) accepts a world-writable directory") {
  TempDir dir;
  const std::string shared = dir / "shared";
  REQUIRE(fs::create_directory(shared));
  REQUIRE(::chmod(shared.c_str(), 0777) == 0);
  AtomicWriteOptions options;
  options.shared_directory_ok = true;
  options.keep_existing_mode = false;
  REQUIRE(failure(write_file_atomically(shared + "/token", "t", options)) == "");
  CHECK(mode_of(shared + "/token") == 0600);
  CHECK_FALSE(write_file_atomically(shared + "/other", "t").has_value());  // not without it
  if (need_root("a symlink of another user in the shared directory")) {
    const std::string link = shared + "/planted";
    REQUIRE(::symlink((dir / "victim").c_str(), link.c_str()) == 0);
    REQUIRE(::lchown(link.c_str(), kOtherUid, kOtherUid) == 0);
    CHECK_FALSE(write_file_atomically(link, "t", options).has_value());
    CHECK_FALSE(fs::exists(dir / "victim"));
  }
}

TEST_CASE("remove_file_atomically: the file and its lock, under the lock; never a held one") {
  TempDir dir;
  const std::string path = dir / "entry";
  REQUIRE(write_file_atomically(path, "one").has_value());
  REQUIRE(fs::exists(dir / ".entry.lock"));
  // `keep`, asked under the lock, keeps it.
  auto kept = awh::util::remove_file_atomically(path, [] { return true; });
  REQUIRE(kept.has_value());
  CHECK_FALSE(*kept);
  CHECK(fs::exists(path));

  // A writer holding the lock: nothing is removed (no wait).
  const int held = ::open((dir / ".entry.lock").c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(held >= 0);
  REQUIRE(::flock(held, LOCK_EX) == 0);
  AtomicWriteOptions no_wait;
  no_wait.lock_wait = std::chrono::milliseconds(0);
  CHECK_FALSE(awh::util::remove_file_atomically(path, {}, no_wait).has_value());
  CHECK(fs::exists(path));

  // Released: the file and its lock file go.
  ::close(held);
  auto removed = awh::util::remove_file_atomically(path, {}, no_wait);
  REQUIRE(removed.has_value());
  CHECK(*removed);
  CHECK_FALSE(fs::exists(path));
  CHECK_FALSE(fs::exists(dir / ".entry.lock"));

  // The next write makes a new lock file.
  REQUIRE(write_file_atomically(path, "two").has_value());
  CHECK(*read_file_if_exists(path).value() == "two");
  CHECK(fs::exists(dir / ".entry.lock"));
}

TEST_CASE("writers and removers racing: one writer at a time, whatever gets unlinked") {
  TempDir dir;
  const std::string path = dir / "counter";
  std::atomic<int> inside{0};
  std::atomic<bool> overlap{false};
  std::vector<std::thread> threads;
  AtomicWriteOptions no_wait;
  no_wait.lock_wait = std::chrono::milliseconds(0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        if ((i + t) % 4 == 0) {
          (void)awh::util::remove_file_atomically(path, {}, no_wait);  // busy: fine
          continue;
        }
        (void)awh::util::update_file_atomically(
            path, [&](std::optional<std::string_view>) -> awh::Result<awh::util::SecretString> {
              if (inside.fetch_add(1) != 0) overlap = true;
              std::this_thread::yield();
              inside.fetch_sub(1);
              return awh::util::SecretString(std::string("x"));
            });
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK_FALSE(overlap.load());
}
