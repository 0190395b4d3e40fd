#include "creds/cache_store.hpp"

#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
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

Result<std::optional<CacheLock>> CacheStore::try_lock(const std::string& key) const {
  const std::string path = fmt::format("{}/{}.lock", dir_, key);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
  if (fd < 0) {
    Error e = make_error(errc::file, fmt::format("cannot open {}: {}", path, reason(errno)));
    e.sys_errno = errno;
    return e;
  }
  CacheLock lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return std::optional<CacheLock>(std::move(lock));
  if (errno == EWOULDBLOCK || errno == EINTR) return std::optional<CacheLock>();
  Error e = make_error(errc::file, fmt::format("cannot lock {}: {}", path, reason(errno)));
  e.sys_errno = errno;
  return e;
}

}  // namespace awh::creds
