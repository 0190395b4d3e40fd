#include <doctest/doctest.h>

#include <cerrno>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
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

TEST_CASE("an existing file keeps its mode (and, as root, its owner) and gets the new contents") {
  TempDir dir;
  const std::string path = dir / "credentials";
  spit(path, "old contents that are longer than the new ones");
  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  if (is_root()) REQUIRE(::chown(path.c_str(), 4242, 4243) == 0);

  REQUIRE(failure(write_file_atomically(path, "new")) == "");
  CHECK(slurp(path) == "new");
  CHECK(mode_of(path) == 0640);
  if (is_root()) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(st.st_uid == 4242u);
    CHECK(st.st_gid == 4243u);
  } else {
    MESSAGE("not root: owner preservation (root only) not checked");
  }
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
