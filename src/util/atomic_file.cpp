#include "util/atomic_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <random>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "util/log.hpp"
#include "util/text.hpp"

namespace awh::util {
namespace {

// The kernel's own limit for symlinks in one path resolution (MAXSYMLINKS).
constexpr int kMaxSymlinks = 40;
// A read larger than this is refused (a credentials file is a few KiB).
constexpr std::size_t kMaxRead = 16 << 20;

// Owns one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  // close() errors are deliberately ignored here: this path only runs for descriptors we read
  // from, or after a failure that is already being reported. Written files use close() below.
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

  // Closes now; returns 0 or the errno. A failed close() of a written file can be the first
  // report of a lost write (NFS, quotas), so it must be checked.
  int close() { return ::close(std::exchange(fd_, -1)) == 0 ? 0 : errno; }

 private:
  void reset() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }
  int fd_ = -1;
};

std::string reason(int err) { return std::generic_category().message(err); }

// Paths in messages are escaped: a control character in a path can't forge a log line.
std::string shown(std::string_view path) { return escape_text(path, 4096); }

// "cannot write <path>: <detail><OS reason>"
Error write_error(const std::string& path, std::string_view detail, int err) {
  Error e = make_error(errc::file,
                       fmt::format("cannot write {}: {}{}", shown(path), detail, reason(err)));
  e.sys_errno = err;
  return e;
}

// A path rule refused it: "cannot write <path>: <why>".
Error refused(const std::string& path, std::string_view why) {
  Error e = make_error(errc::file, fmt::format("cannot write {}: {}", shown(path), why));
  e.sys_errno = EPERM;
  return e;
}

Error unchanged(Error e) {
  e.message += " (the file was not changed)";
  return e;
}

std::string join(std::string_view dir, std::string_view name) {
  if (dir == ".") return std::string(name);
  return !dir.empty() && dir.back() == '/' ? fmt::format("{}{}", dir, name)
                                           : fmt::format("{}/{}", dir, name);
}

std::deque<std::string> split(std::string_view path) {
  std::deque<std::string> parts;
  while (!path.empty()) {
    const auto slash = path.find('/');
    const auto part = path.substr(0, slash);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

bool trusted_owner(uid_t uid) { return uid == ::geteuid() || uid == 0; }

// Writable by someone who is neither us nor root (the owner is checked separately).
bool writable_by_others(const struct stat& st) {
  return (st.st_mode & S_IWOTH) != 0 ||
         ((st.st_mode & S_IWGRP) != 0 && st.st_gid != 0 && st.st_gid != ::getegid());
}

// A directory on the way (OpenSSH StrictModes): owned by us or root, and writable by nobody
// else unless sticky (there, nobody else can rename or remove what is ours).
Result<void> check_dir(const std::string& path, const std::string& dir, const struct stat& st,
                       bool shared_ok) {
  if (!trusted_owner(st.st_uid)) {
    return refused(path, fmt::format("directory {} is owned by uid {}, not by us (uid {}) or root",
                                     shown(dir), st.st_uid, ::geteuid()));
  }
  if (!shared_ok && writable_by_others(st) && (st.st_mode & S_ISVTX) == 0) {
    return refused(path, fmt::format("directory {} is writable by other users (mode {:04o}); "
                                     "allow writing only to its owner, or make it sticky",
                                     shown(dir), st.st_mode & 07777));
  }
  return {};
}

// A directory reached safely: an O_PATH descriptor and its path for messages.
struct Place {
  UniqueFd fd;
  std::string path;
};

Result<Place> open_start(const std::string& path, bool absolute, bool shared_ok) {
  const char* start = absolute ? "/" : ".";
  UniqueFd fd(::open(start, O_PATH | O_DIRECTORY | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) {
    return write_error(path, fmt::format("opening {}: ", start), errno);
  }
  AWH_TRY(ok, check_dir(path, start, st, shared_ok));
  return Place{std::move(fd), start};
}

Result<std::string> read_link(const std::string& path, const Place& at, const std::string& name) {
  std::string text(4096, '\0');
  const ssize_t n = ::readlinkat(at.fd.get(), name.c_str(), text.data(), text.size());
  if (n < 0)
    return write_error(path, fmt::format("reading symlink {}: ", join(at.path, name)), errno);
  if (static_cast<std::size_t>(n) >= text.size() || n == 0) {
    return write_error(path, fmt::format("reading symlink {}: ", join(at.path, name)),
                       ENAMETOOLONG);
  }
  text.resize(static_cast<std::size_t>(n));
  return text;
}

// The kernel's fs.protected_symlinks rule, for everyone: only links of ours or root's.
Result<void> check_link(const std::string& path, const std::string& link, const struct stat& st,
                        int& links) {
  if (!trusted_owner(st.st_uid)) {
    return refused(path, fmt::format("symlink {} is owned by uid {}; only symlinks owned by us "
                                     "(uid {}) or root are followed",
                                     shown(link), st.st_uid, ::geteuid()));
  }
  if (++links > kMaxSymlinks) return write_error(path, fmt::format("{}: ", shown(link)), ELOOP);
  return {};
}

// Walks the directory names `parts` from `place`, one openat(O_NOFOLLOW) at a time, expanding
// allowed symlinks in place and creating missing directories with `dir_mode` when `create`.
// Where the directory rule is relaxed (`shared_ok`), every other rule still holds.
struct Walk {
  bool create = false;
  mode_t dir_mode = 0700;
  bool shared_ok = false;
};

Result<Place> walk(const std::string& path, Place place, std::deque<std::string> parts,
                   const Walk& how, int& links) {
  while (!parts.empty()) {
    const std::string name = std::move(parts.front());
    parts.pop_front();
    const std::string here = join(place.path, name);
    struct stat st {};
    if (::fstatat(place.fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT || !how.create)
        return write_error(path, fmt::format("{}: ", shown(here)), errno);
      if (::mkdirat(place.fd.get(), name.c_str(), how.dir_mode) == 0) {
        // mkdir() applies the umask; the contract is the exact mode.
        UniqueFd made(::openat(place.fd.get(), name.c_str(),
                               O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!made.valid() || ::fchmod(made.get(), how.dir_mode) != 0) {
          return write_error(path, fmt::format("creating directory {}: ", shown(here)), errno);
        }
      } else if (errno != EEXIST) {  // EEXIST: another process just made it; checked below
        return write_error(path, fmt::format("creating directory {}: ", shown(here)), errno);
      }
      if (::fstatat(place.fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return write_error(path, fmt::format("{}: ", shown(here)), errno);
      }
    }
    if (S_ISLNK(st.st_mode)) {
      AWH_TRY(allowed, check_link(path, here, st, links));
      AWH_TRY(text, read_link(path, place, name));
      auto more = split(*text);
      parts.insert(parts.begin(), more.begin(), more.end());
      if (text->front() == '/') {
        AWH_TRY(root, open_start(path, true, how.shared_ok));
        place = std::move(*root);
      }
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      return write_error(path, fmt::format("creating directory {}: ", shown(here)), ENOTDIR);
    }
    UniqueFd fd(
        ::openat(place.fd.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return write_error(path, fmt::format("{}: ", shown(here)), errno);
    if (::fstat(fd.get(), &st) != 0)
      return write_error(path, fmt::format("{}: ", shown(here)), errno);
    AWH_TRY(ok, check_dir(path, here, st, how.shared_ok));
    place = Place{std::move(fd), name == ".." ? join(place.path, "..") : here};
  }
  return place;
}

// The file that will really be replaced: its directory (opened for reading, to fsync and list
// it) and its name there; `existing` is its lstat, if it exists.
struct Target {
  UniqueFd dir;
  std::string dir_path;
  std::string name;
  std::optional<struct stat> existing;
  std::string file() const { return join(dir_path, name); }
};

// Looks at `name` in `dir` without following it: absent, a regular file, or refused.
Result<std::optional<struct stat>> inspect(const std::string& path, int dir,
                                           const std::string& file, const std::string& name) {
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return std::optional<struct stat>();
    return write_error(path, fmt::format("{}: ", shown(file)), errno);
  }
  if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
    return refused(path,
                   fmt::format("{} is {}, not a regular file", shown(file), kind_of(st.st_mode)));
  }
  return std::optional<struct stat>(st);
}

Result<Target> resolve(const std::string& path, const Walk& how) {
  const auto not_a_file = [&] {
    return make_error(errc::invalid_input,
                      fmt::format("cannot write '{}': not a file path", shown(path)));
  };
  const std::string_view last = std::string_view(path).substr(path.rfind('/') + 1);
  if (last.empty() || last == "." || last == "..") return not_a_file();
  auto parts = split(path);
  std::string name = std::move(parts.back());
  parts.pop_back();
  int links = 0;
  AWH_TRY(start, open_start(path, path.front() == '/', how.shared_ok));
  AWH_TRY(place, walk(path, std::move(*start), std::move(parts), how, links));
  bool followed = false;
  for (;;) {
    const std::string file = join(place->path, name);
    AWH_TRY(existing, inspect(path, place->fd.get(), file, name));
    if (!*existing) {
      if (followed) {
        return write_error(path, fmt::format("the symlink points to {}: ", shown(file)), ENOENT);
      }
      break;
    }
    if (!S_ISLNK((*existing)->st_mode)) {
      // protected_symlinks: what a link points to must be ours or root's too.
      if (followed && !trusted_owner((*existing)->st_uid)) {
        return refused(path, fmt::format("the symlink points to {}, owned by uid {}", shown(file),
                                         (*existing)->st_uid));
      }
      Target t{UniqueFd(), place->path, name, *existing};
      t.dir = UniqueFd(::openat(place->fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!t.dir.valid()) return write_error(path, fmt::format("{}: ", shown(place->path)), errno);
      return t;
    }
    // Replace the file the link points to: renaming over the link itself would turn it into a
    // regular file and silently disconnect whoever set the link up.
    AWH_TRY(allowed, check_link(path, file, **existing, links));
    AWH_TRY(text, read_link(path, *place, name));
    auto link_parts = split(*text);
    if (text->back() == '/' || link_parts.empty() || link_parts.back() == "..") {
      return refused(path, fmt::format("the symlink {} does not point to a file", shown(file)));
    }
    name = std::move(link_parts.back());
    link_parts.pop_back();
    if (text->front() == '/') {
      AWH_TRY(root, open_start(path, true, how.shared_ok));
      place = std::move(*root);
    }
    Walk no_create = how;
    no_create.create = false;  // a symlink's target directory must exist
    AWH_TRY(next, walk(path, std::move(*place), std::move(link_parts), no_create, links));
    place = std::move(*next);
    followed = true;
  }
  Target t{UniqueFd(), place->path, name, std::nullopt};
  t.dir = UniqueFd(::openat(place->fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!t.dir.valid()) return write_error(path, fmt::format("{}: ", shown(place->path)), errno);
  return t;
}

Walk walk_of(const AtomicWriteOptions& options) {
  Walk how;
  how.create = true;
  how.dir_mode = options.new_dir_mode;
  how.shared_ok = options.shared_directory_ok;
  return how;
}

// The owner rule: a file that isn't ours is refused, unless it is to be replaced.
Result<void> check_owner(const std::string& path, const Target& t,
                         const AtomicWriteOptions& options) {
  if (!t.existing || t.existing->st_uid == ::geteuid() || options.replace_foreign) return {};
  return refused(path, fmt::format("{} is owned by uid {}, not by us (uid {}); it is never "
                                   "written in place (--force replaces it with a new file of ours)",
                                   t.file() == path ? "the file" : shown(t.file()),
                                   t.existing->st_uid, ::geteuid()));
}

// Reads what `fd` holds: a regular file (checked with fstat before any read), at most max_size.
Result<std::string> read_all(const std::string& path, int fd, std::size_t max_size) {
  const auto fail = [&](int err) {
    Error e = make_error(errc::file, fmt::format("cannot read {}: {}", shown(path), reason(err)));
    e.sys_errno = err;
    return e;
  };
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(errno);
  if (!S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode)) return fail(EISDIR);
    return make_error(errc::file, fmt::format("cannot read {}: it is {}, not a regular file",
                                              shown(path), kind_of(st.st_mode)));
  }
  const auto too_large = [&] {
    return make_error(errc::file,
                      fmt::format("cannot read {}: larger than {} bytes", shown(path), max_size));
  };
  if (static_cast<std::uintmax_t>(st.st_size) > max_size) return too_large();
  // Read straight into the string, sized from fstat: the secrets are never copied through a
  // buffer or left behind by a reallocation. A file that grew since fstat is read on, up to one
  // byte past max_size, into a larger string (the old one wiped).
  std::string contents(static_cast<std::size_t>(std::min<std::uintmax_t>(st.st_size, max_size)) + 1,
                       '\0');
  std::size_t used = 0;
  for (;;) {
    if (used == contents.size()) {
      if (used > max_size) {
        wipe(contents);
        return too_large();
      }
      std::string larger(std::min(2 * contents.size(), max_size + 1), '\0');
      std::memcpy(larger.data(), contents.data(), used);
      wipe(contents);
      contents.swap(larger);
    }
    const ssize_t n = ::read(fd, contents.data() + used, contents.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      wipe(contents);
      return fail(err);
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  contents.resize(used);  // shrinking: no reallocation, no copy
  return contents;
}

std::string lock_name(const Target& t) { return fmt::format(".{}.lock", t.name); }

// flock() on `.<name>.lock` beside the target, waiting at most `wait`. The lock is released
// when the descriptor closes. A lock file is only ever unlinked by the holder of its lock
// (remove_file_atomically), so the lock counts only on the file that is at the name once we
// hold it; if it was replaced after we opened it, we lock the new one instead.
Result<UniqueFd> take_lock(const std::string& path, const Target& t,
                           std::chrono::milliseconds wait) {
  const std::string name = lock_name(t);
  const std::string file = join(t.dir_path, name);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    UniqueFd fd(::openat(t.dir.get(), name.c_str(),
                         O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600));
    if (!fd.valid())
      return write_error(path, fmt::format("opening the lock file {}: ", shown(file)), errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return write_error(path, "", errno);
    if (!S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) {
      return refused(path,
                     fmt::format("the lock file {} is not a regular file of ours", shown(file)));
    }
    while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EINTR) continue;
      if (errno != EWOULDBLOCK)
        return write_error(path, fmt::format("locking {}: ", shown(file)), errno);
      if (std::chrono::steady_clock::now() >= deadline) {
        return refused(path, fmt::format("another writer has held the lock {} for more than {} ms",
                                         shown(file), wait.count()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    struct stat current {};
    if (::fstatat(t.dir.get(), name.c_str(), &current, AT_SYMLINK_NOFOLLOW) == 0 &&
        current.st_dev == st.st_dev && current.st_ino == st.st_ino) {
      return fd;
    }
  }
}

// A temp file beside the target; unlinked on destruction unless it was renamed into place.
class TempFile {
 public:
  TempFile(int dir, std::string name, UniqueFd fd)
      : dir_(dir), name_(std::move(name)), fd_(std::move(fd)) {}
  TempFile(TempFile&& other) noexcept
      : dir_(other.dir_), name_(std::exchange(other.name_, {})), fd_(std::move(other.fd_)) {}
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile() {
    if (!name_.empty()) ::unlinkat(dir_, name_.c_str(), 0);  // best effort; already reported
  }
  const std::string& name() const { return name_; }
  UniqueFd& fd() { return fd_; }
  void renamed() { name_.clear(); }

 private:
  int dir_;
  std::string name_;
  UniqueFd fd_;
};

std::string temp_prefix(const std::string& name) { return fmt::format(".{}.tmp-", name); }

std::string random_hex() {
  std::random_device device;
  const std::uint64_t bits = (std::uint64_t{device()} << 32) | device();
  return fmt::format("{:016x}", bits);
}

Result<TempFile> create_temp_file(const std::string& path, const Target& t) {
  // O_EXCL + O_NOFOLLOW: never reuse or follow something another user placed in the directory.
  constexpr int kAttempts = 8;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    std::string name = temp_prefix(t.name) + random_hex();
    const int fd = ::openat(t.dir.get(), name.c_str(),
                            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) return TempFile(t.dir.get(), std::move(name), UniqueFd(fd));
    if (errno != EEXIST) {
      return write_error(path, fmt::format("creating a temporary file in {}: ", shown(t.dir_path)),
                         errno);
    }
  }
  return write_error(path, fmt::format("creating a temporary file in {}: ", shown(t.dir_path)),
                     EEXIST);
}

// Returns 0 or the errno.
int write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

// Temp files of ours for this target that a killed run left behind. Only called with the lock
// held, so none of them belongs to a writer still at work.
void remove_stale_temps(const Target& t) {
  const int fd = ::openat(t.dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the write itself succeeded
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    return;
  }
  const std::string prefix = temp_prefix(t.name);
  std::vector<std::string> stale;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name(entry->d_name);
    if (name.substr(0, prefix.size()) != prefix) continue;
    struct stat st {};
    if (::fstatat(t.dir.get(), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode) && st.st_uid == ::geteuid()) {
      stale.emplace_back(name);
    }
  }
  ::closedir(dir);
  for (const auto& name : stale) {
    if (::unlinkat(t.dir.get(), name.c_str(), 0) == 0) {
      log::info("removed {} (a temporary file left by an interrupted write)",
                shown(join(t.dir_path, name)));
    }
  }
}

// The mode of the new file: an existing file of ours keeps its bits when they are safe.
mode_t choose_mode(const std::string& path, const Target& t, const AtomicWriteOptions& options) {
  const mode_t fresh = options.new_file_mode & 0777;
  if (!t.existing || t.existing->st_uid != ::geteuid() || !options.keep_existing_mode) return fresh;
  const mode_t old = t.existing->st_mode & 0777;
  if ((old & 0027) == 0) return old;  // no group write, nothing for others
  const mode_t tightened = old & 0640;
  log::warn("{}: mode {:04o} gave other users access; tightened to {:04o}", shown(path), old,
            tightened);
  return tightened;
}

// Everything up to and including the rename, with the lock held; on failure the target is
// untouched.
Result<void> replace(const std::string& path, Target& t, const Edit& edit,
                     const AtomicWriteOptions& options) {
  // Another writer may have changed the target while we waited for the lock: look again.
  AWH_TRY(now, inspect(path, t.dir.get(), t.file(), t.name));
  if (*now && S_ISLNK((*now)->st_mode)) {
    return refused(path, fmt::format("{} became a symlink", shown(t.file())));
  }
  t.existing = *now;
  AWH_TRY(owner, check_owner(path, t, options));
  const bool foreign = t.existing && t.existing->st_uid != ::geteuid();
  if (foreign) {
    log::warn("{} is owned by uid {}; --force: replacing it with a new file of ours",
              shown(t.file()), t.existing->st_uid);
  }

  std::optional<SecretString> current;
  if (t.existing && !foreign) {
    UniqueFd fd(::openat(t.dir.get(), t.name.c_str(),
                         O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd.valid()) return write_error(path, "reading it: ", errno);
    AWH_TRY(read, read_all(path, fd.get(), kMaxRead));
    current.emplace(std::move(*read));
  }
  AWH_TRY(contents, edit(current ? std::optional<std::string_view>(*current) : std::nullopt));
  current.reset();

  const mode_t mode = choose_mode(path, t, options);
  AWH_TRY(temp, create_temp_file(path, t));
  UniqueFd& fd = temp->fd();
  if (const int err = write_all(fd.get(), *contents)) return write_error(path, "", err);
  if (::fsync(fd.get()) != 0) return write_error(path, "", errno);
  // An existing file of ours keeps its group (a reader group of a 0640 file). Only a group we
  // are in can be set; if that fails the file simply gets our group, the safer outcome.
  if (t.existing && !foreign && t.existing->st_gid != ::getegid()) {
    [[maybe_unused]] const int ignored =
        ::fchown(fd.get(), static_cast<uid_t>(-1), t.existing->st_gid);
  }
  // Created 0600 (the umask may have reduced even that); the final mode is set once the
  // contents are complete, and the umask does not affect fchmod.
  if (::fchmod(fd.get(), mode) != 0) {
    return write_error(path, fmt::format("setting mode {:04o}: ", mode), errno);
  }
  if (const int err = fd.close()) return write_error(path, "", err);
  if (::renameat(t.dir.get(), temp->name().c_str(), t.dir.get(), t.name.c_str()) != 0) {
    return write_error(path, "replacing the file: ", errno);
  }
  temp->renamed();
  return {};
}

}  // namespace

Result<std::optional<std::string>> read_file_if_exists(const std::string& path,
                                                       std::size_t max_size) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat() then refuses it unread.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::optional<std::string>();
    Error e = make_error(errc::file, fmt::format("cannot read {}: {}", shown(path), reason(errno)));
    e.sys_errno = errno;
    return e;
  }
  AWH_TRY(contents, read_all(path, fd.get(), max_size));
  return std::optional<std::string>(std::move(*contents));
}

Result<void> update_file_atomically(const std::string& path, const Edit& edit,
                                    const AtomicWriteOptions& options) {
  auto target = resolve(path, walk_of(options));
  if (!target) return unchanged(target.error());
  Target& t = *target;
  auto held = take_lock(path, t, options.lock_wait);
  if (!held) return unchanged(held.error());
  if (auto replaced = replace(path, t, edit, options); !replaced) {
    return unchanged(replaced.error());
  }
  // Make the rename itself durable; without this a crash can bring the old file back.
  if (::fsync(t.dir.get()) != 0) {
    Error e = write_error(path, fmt::format("syncing directory {}: ", shown(t.dir_path)), errno);
    e.message += " (the new contents are in place but may not survive a crash)";
    return e;
  }
  remove_stale_temps(t);
  return {};
}

Result<void> write_file_atomically(const std::string& path, std::string_view contents,
                                   const AtomicWriteOptions& options) {
  return update_file_atomically(
      path,
      [&](std::optional<std::string_view>) -> Result<SecretString> {
        return SecretString(std::string(contents));
      },
      options);
}

Result<bool> remove_file_atomically(const std::string& path, const std::function<bool()>& keep,
                                    const AtomicWriteOptions& options) {
  AWH_TRY(target, resolve(path, walk_of(options)));
  Target& t = *target;
  AWH_TRY(held, take_lock(path, t, options.lock_wait));
  if (keep && keep()) return false;
  bool removed = true;
  if (::unlinkat(t.dir.get(), t.name.c_str(), 0) != 0) {
    if (errno != ENOENT) return write_error(path, "removing it: ", errno);
    removed = false;
  }
  // By its holder (see take_lock); if this fails, a lock file left behind is only clutter.
  (void)::unlinkat(t.dir.get(), lock_name(t).c_str(), 0);
  return removed;
}

Result<void> prepare_directory(const std::string& path, const AtomicWriteOptions& options) {
  AWH_TRY(target, resolve(path, walk_of(options)));
  AWH_TRY(owner, check_owner(path, *target, options));
  // AT_EACCESS: check with the effective ids, the ones open() and rename() will use.
  if (::faccessat(target->dir.get(), ".", W_OK | X_OK, AT_EACCESS) != 0) {
    return write_error(path, fmt::format("directory {} is not writable: ", shown(target->dir_path)),
                       errno);
  }
  return {};
}

}  // namespace awh::util
