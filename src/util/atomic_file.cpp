#include "util/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <system_error>
#include <utility>

#include <fmt/format.h>

namespace awh::util {
namespace {

// Owns one file descriptor.
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&&) = delete;
  // close() errors are deliberately ignored here: this path only runs for descriptors we read
  // from, or after a failure that is already being reported. Written files use close() below.
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

  // Closes now; returns 0 or the errno. A failed close() of a written file can be the first
  // report of a lost write (NFS, quotas), so it must be checked.
  int close() { return ::close(std::exchange(fd_, -1)) == 0 ? 0 : errno; }

 private:
  int fd_;
};

// A temp file beside the target; unlinked on destruction unless it was renamed into place.
class TempFile {
 public:
  TempFile(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  TempFile(TempFile&& other) noexcept
      : path_(std::exchange(other.path_, {})), fd_(std::move(other.fd_)) {}
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());  // best effort; the failure is already reported
  }

  const std::string& path() const { return path_; }
  UniqueFd& fd() { return fd_; }
  void renamed() { path_.clear(); }

 private:
  std::string path_;
  UniqueFd fd_;
};

std::string reason(int err) { return std::generic_category().message(err); }

// "cannot write <path>: <detail><OS reason>"
Error write_error(const std::string& path, std::string_view detail, int err) {
  Error e = make_error(errc::file, fmt::format("cannot write {}: {}{}", path, detail, reason(err)));
  e.sys_errno = err;
  return e;
}

Error unchanged(Error e) {
  e.message += " (the file was not changed)";
  return e;
}

std::string join(const std::string& dir, std::string_view name) {
  return dir.back() == '/' ? fmt::format("{}{}", dir, name) : fmt::format("{}/{}", dir, name);
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The file that will really be replaced, split into its directory and name.
struct Target {
  std::string path;
  std::string dir;
  std::string name;
};

Result<Target> resolve_target(const std::string& path) {
  Target target{path, {}, {}};
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    // Replace the file the link points to: renaming over the link itself would turn it into a
    // regular file and silently disconnect whoever set the link up.
    const std::unique_ptr<char, decltype(&std::free)> real(::realpath(path.c_str(), nullptr),
                                                           &std::free);
    if (!real) return write_error(path, "resolving symlink: ", errno);
    target.path = real.get();
  }
  const auto slash = target.path.find_last_of('/');
  const bool bare = slash == std::string::npos;
  target.dir = bare ? std::string(".")
                    : target.path.substr(0, std::max<std::size_t>(slash, 1));  // "/x" -> "/"
  target.name = target.path.substr(bare ? 0 : slash + 1);
  if (target.name.empty() || target.name == "." || target.name == "..") {
    return make_error(errc::invalid_input, fmt::format("cannot write '{}': not a file path", path));
  }
  return target;
}

// mkdir -p for `dir`, giving each level we create exactly `mode`. `path` is for messages.
Result<void> make_dirs(const std::string& path, const std::string& dir, mode_t mode) {
  if (is_directory(dir)) return {};
  // Walk the prefixes from the top so that every missing level is created with `mode`.
  for (auto end = dir.find('/', 1);; end = dir.find('/', end + 1)) {
    const std::string level = dir.substr(0, end);
    if (::mkdir(level.c_str(), mode) == 0) {
      // mkdir() applies the umask; the contract is the exact mode.
      if (::chmod(level.c_str(), mode) != 0) {
        return write_error(path, fmt::format("creating directory {}: ", level), errno);
      }
    } else {
      // Fine if the level exists as a directory (maybe another process just created it).
      const int err = errno;
      if (!is_directory(level)) {
        return write_error(path, fmt::format("creating directory {}: ", level),
                           err == EEXIST ? ENOTDIR : err);
      }
    }
    if (end == std::string::npos) return {};
  }
}

std::string random_hex() {
  std::random_device device;
  const std::uint64_t bits = (std::uint64_t{device()} << 32) | device();
  return fmt::format("{:016x}", bits);
}

Result<TempFile> create_temp_file(const std::string& path, const Target& target) {
  // O_EXCL + O_NOFOLLOW: never reuse or follow something another user placed in the directory.
  constexpr int kAttempts = 8;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    std::string temp = join(target.dir, fmt::format(".{}.tmp-{}", target.name, random_hex()));
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) return TempFile(std::move(temp), UniqueFd(fd));
    if (errno != EEXIST) {
      return write_error(path, fmt::format("creating a temporary file in {}: ", target.dir), errno);
    }
  }
  return write_error(path, fmt::format("creating a temporary file in {}: ", target.dir), EEXIST);
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

// Everything up to and including the rename; on failure the target is untouched.
Result<void> replace(const std::string& path, const Target& target, std::string_view contents,
                     const AtomicWriteOptions& options) {
  if (auto made = make_dirs(path, target.dir, options.new_dir_mode); !made) return made;

  mode_t mode = options.new_file_mode & 07777;
  bool keep_owner = false;
  struct stat existing {};
  if (::stat(target.path.c_str(), &existing) == 0) {
    if (options.keep_existing_mode) mode = existing.st_mode & 07777;
    keep_owner = ::geteuid() == 0;  // only root can give a file away
  } else if (errno != ENOENT) {
    return write_error(path, "", errno);
  }

  auto temp = create_temp_file(path, target);
  if (!temp) return temp.error();
  UniqueFd& fd = temp->fd();
  // fchown before fchmod: changing the owner clears set-id bits.
  if (keep_owner && ::fchown(fd.get(), existing.st_uid, existing.st_gid) != 0) {
    return write_error(path, "setting owner: ", errno);
  }
  // The temp file was created 0600 (and the umask may have reduced even that); set the final
  // mode explicitly, which the umask does not affect.
  if (::fchmod(fd.get(), mode) != 0) {
    return write_error(path, fmt::format("setting mode {:04o}: ", mode), errno);
  }
  if (const int err = write_all(fd.get(), contents)) return write_error(path, "", err);
  if (::fsync(fd.get()) != 0) return write_error(path, "", errno);
  if (const int err = fd.close()) return write_error(path, "", err);
  if (::rename(temp->path().c_str(), target.path.c_str()) != 0) {
    return write_error(path, "replacing the file: ", errno);
  }
  temp->renamed();
  return {};
}

}  // namespace

Result<std::optional<std::string>> read_file_if_exists(const std::string& path,
                                                       std::size_t max_size) {
  const auto fail = [&](int err) {
    Error e = make_error(errc::file, fmt::format("cannot read {}: {}", path, reason(err)));
    e.sys_errno = err;
    return e;
  };
  const auto too_large = [&] {
    return make_error(errc::file,
                      fmt::format("cannot read {}: larger than {} bytes", path, max_size));
  };

  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::optional<std::string>();
    return fail(errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(errno);
  if (S_ISDIR(st.st_mode)) return fail(EISDIR);
  if (st.st_size > 0 && static_cast<std::uintmax_t>(st.st_size) > max_size) return too_large();

  // Read to EOF rather than trusting st_size: pipes and /proc files report 0.
  std::string contents;
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno);
    }
    if (n == 0) break;
    if (contents.size() + static_cast<std::size_t>(n) > max_size) return too_large();
    contents.append(buffer, static_cast<std::size_t>(n));
  }
  return std::optional<std::string>(std::move(contents));
}

Result<void> write_file_atomically(const std::string& path, std::string_view contents,
                                   const AtomicWriteOptions& options) {
  const auto target = resolve_target(path);
  if (!target) return unchanged(target.error());
  if (auto replaced = replace(path, *target, contents, options); !replaced) {
    return unchanged(replaced.error());
  }

  // Make the rename itself durable; without this a crash can bring the old file back.
  UniqueFd dir(::open(target->dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid() || ::fsync(dir.get()) != 0) {
    Error e = write_error(path, fmt::format("syncing directory {}: ", target->dir), errno);
    e.message += " (the new contents are in place but may not survive a crash)";
    return e;
  }
  return {};
}

Result<void> prepare_directory(const std::string& path, const AtomicWriteOptions& options) {
  const auto target = resolve_target(path);
  if (!target) return target.error();
  if (auto made = make_dirs(path, target->dir, options.new_dir_mode); !made) return made;
  // AT_EACCESS: check with the effective ids, the ones open() and rename() will use.
  if (::faccessat(AT_FDCWD, target->dir.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
    return write_error(path, fmt::format("directory {} is not writable: ", target->dir), errno);
  }
  return {};
}

}  // namespace awh::util
