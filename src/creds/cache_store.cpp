#include "creds/cache_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>

#include "util/atomic_file.hpp"
#include "util/log.hpp"
#include "util/secret.hpp"

namespace awh::creds {
namespace {

constexpr std::size_t kMaxEntrySize = 64 * 1024;  // an entry is about 1-2 KiB

std::string reason(int err) { return std::generic_category().message(err); }

Error dir_error(const std::string& dir, const std::string& what, int err = 0) {
  Error e = make_error(
      errc::file, fmt::format("--cache-dir: {} {}{}", dir, what, err ? ": " + reason(err) : ""));
  e.sys_errno = err;
  return e;
}

// Reads a whole small file that must be a regular file of ours with no group/other access,
// without following a symlink and without blocking on a FIFO. nullopt for anything else.
std::optional<std::string> read_private_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) log::debug("cache: cannot open {}: {}", path, reason(errno));
    return std::nullopt;
  }
  std::optional<std::string> out;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
      (st.st_mode & 077) != 0 || st.st_size > static_cast<off_t>(kMaxEntrySize)) {
    log::debug("cache: ignoring {}: not a private regular file of ours", path);
  } else {
    std::string buffer(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < buffer.size()) {
      const ssize_t n = ::read(fd, buffer.data() + got, buffer.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    buffer.resize(got);
    out = std::move(buffer);
  }
  ::close(fd);
  return out;
}

}  // namespace

Result<void> prepare_cache_dir(const std::string& dir) {
  if (dir.empty()) return dir_error("''", "is not a directory path");
  if (::mkdir(dir.c_str(), 0700) == 0) {
    // Exactly 0700, whatever the umask.
    if (::chmod(dir.c_str(), 0700) != 0) return dir_error(dir, "cannot be made private", errno);
  } else if (errno != EEXIST) {
    return dir_error(dir, "cannot be created", errno);
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return dir_error(dir, "cannot be checked", errno);
  if (S_ISLNK(st.st_mode)) return dir_error(dir, "is a symlink; refusing to use it");
  if (!S_ISDIR(st.st_mode)) return dir_error(dir, "is not a directory");
  if (st.st_uid != ::geteuid()) {
    return dir_error(dir, fmt::format("is owned by uid {}, not by this user (uid {}); refusing to "
                                      "use it",
                                      st.st_uid, ::geteuid()));
  }
  if ((st.st_mode & 077) != 0) {
    return dir_error(dir, fmt::format("is accessible by group or others (mode {:04o}); it must be "
                                      "0700",
                                      st.st_mode & 07777));
  }
  return {};
}

CacheLock::CacheLock(CacheLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

CacheLock& CacheLock::operator=(CacheLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

CacheLock::~CacheLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

std::string CacheStore::entry_path(const std::string& key) const {
  return fmt::format("{}/{}.json", dir_, key);
}

std::optional<CacheEntry> CacheStore::read(const std::string& key) const {
  auto text = read_private_file(entry_path(key));
  if (!text) return std::nullopt;
  auto entry = parse_cache_entry(*text);
  util::wipe(*text);
  if (!entry) log::debug("cache: ignoring the corrupt entry {}", entry_path(key));
  return entry;
}

Result<void> CacheStore::write(const std::string& key, const Credentials& credentials) const {
  std::string text = serialize_cache_entry(credentials);
  util::AtomicWriteOptions options;
  options.keep_existing_mode = false;  // always 0600
  auto written = util::write_file_atomically(entry_path(key), text, options);
  util::wipe(text);
  return written;
}

std::string CacheStore::lock_path(const std::string& key) const {
  return fmt::format("{}/{}.lock", dir_, key);
}

Result<std::optional<CacheLock>> CacheStore::try_lock(const std::string& key) const {
  const std::string path = lock_path(key);
  // A few tries: each retry means a sweeper replaced the file between our open and our flock.
  for (int attempt = 0; attempt < 8; ++attempt) {
    const int fd =
        ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (fd < 0) {
      Error e = make_error(errc::file, fmt::format("cannot open {}: {}", path, reason(errno)));
      e.sys_errno = errno;
      return e;
    }
    CacheLock lock(fd);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK || errno == EINTR) return std::optional<CacheLock>();
      Error e = make_error(errc::file, fmt::format("cannot lock {}: {}", path, reason(errno)));
      e.sys_errno = errno;
      return e;
    }
    // The lock counts only on the file that is at the path now: a sweeper unlinks a lock file
    // while holding it, and a run that opened it before then would lock a file nobody else sees.
    struct stat held {};
    struct stat current {};
    if (::fstat(fd, &held) == 0 && ::lstat(path.c_str(), &current) == 0 &&
        held.st_dev == current.st_dev && held.st_ino == current.st_ino) {
      return std::optional<CacheLock>(std::move(lock));
    }
  }
  return std::optional<CacheLock>();  // the file keeps changing: as if held
}

namespace {

// A key as cache_key() makes them: 64 lowercase hex digits.
bool is_key(std::string_view name) {
  return name.size() == 64 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::chrono::system_clock::time_point modified(const struct stat& st) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

}  // namespace

std::size_t CacheStore::sweep(std::chrono::system_clock::time_point now,
                              std::size_t max_keys) const {
  // A key's files: <key>.json (the entry), <key>.lock (the single-flight lock) and
  // .<key>.json.lock (the entry writer's lock, util/atomic_file.hpp).
  std::set<std::string> keys;
  if (DIR* dir = ::opendir(dir_.c_str())) {
    while (const dirent* item = ::readdir(dir)) {
      std::string_view name = item->d_name;
      if (name.starts_with('.') && name.ends_with(".json.lock")) {
        name = name.substr(1, name.size() - 1 - std::string_view(".lock").size());
      }
      for (std::string_view suffix : {".json", ".lock"}) {
        if (name.ends_with(suffix) && is_key(name.substr(0, name.size() - suffix.size()))) {
          keys.emplace(name.substr(0, name.size() - suffix.size()));
        }
      }
      if (keys.size() >= max_keys) break;
    }
    ::closedir(dir);
  }
  // Past use: an entry whose credentials expired long ago; a file of ours that is not a valid
  // entry, or locks without an entry, written long ago. Anything not ours stays.
  const auto old_file_of_ours = [&](const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid() &&
           cache_sweepable(modified(st), now);
  };
  const auto past_use = [&](const std::string& key) {
    struct stat st {};
    const std::string entry = entry_path(key);
    if (::lstat(entry.c_str(), &st) != 0) {
      if (errno != ENOENT) return false;
      const std::string writer_lock = fmt::format("{}/.{}.json.lock", dir_, key);
      bool any = false;
      for (const auto& lock : {lock_path(key), writer_lock}) {
        if (::lstat(lock.c_str(), &st) != 0) continue;
        if (!old_file_of_ours(lock)) return false;
        any = true;
      }
      return any;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) return false;
    if (auto valid = read(key)) return cache_sweepable(valid->expiration, now);
    return cache_sweepable(modified(st), now);
  };
  util::AtomicWriteOptions no_wait;
  no_wait.lock_wait = std::chrono::milliseconds(0);
  std::size_t removed = 0;
  for (const auto& key : keys) {
    if (!past_use(key)) continue;
    auto lock = try_lock(key);
    if (!lock || !*lock) continue;  // in use (or unusable): leave it
    // The entry and its writer's lock, under that lock, if it is still past use there.
    auto gone = util::remove_file_atomically(
        entry_path(key), [&] { return !past_use(key); }, no_wait);
    if (!gone) {
      log::debug("cache: leaving {}: {}", entry_path(key), gone.error().message);
      continue;
    }
    if (!*gone && ::access(entry_path(key).c_str(), F_OK) == 0) continue;  // renewed meanwhile
    // Only the holder of a lock unlinks its file (see try_lock).
    if (::unlink(lock_path(key).c_str()) != 0 && errno != ENOENT) continue;
    ++removed;
  }
  if (removed > 0) log::debug("cache: removed {} entries past use from {}", removed, dir_);
  return removed;
}

}  // namespace awh::creds
