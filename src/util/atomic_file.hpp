#pragma once
// Whole-file reads and crash-safe whole-file replacement of files that hold secrets
// (ARCHITECTURE.md, "Credentials file"). POSIX/Linux only. Every call blocks (fsync can take a
// while on a busy disk; the writer lock is waited for, bounded), so run them where blocking is
// acceptable. Functions are safe to call from any thread and from several processes: writers of
// one file serialise on an advisory lock, so no update is lost.
//
// Path rules (README, "How it is written"), checked on every call, before anything is read or
// written, on file descriptors (no check-then-use race on a path):
//   - the path is resolved component by component with openat(O_NOFOLLOW); a symlink is followed
//     only if it and what it points to are owned by us (the effective uid) or by root, the rule
//     of the kernel's fs.protected_symlinks; at most 40 symlinks;
//   - every directory on the way must be owned by us or root, and not writable by group (unless
//     the group is ours or root's) or others, unless it is sticky (like /tmp), in which case what
//     we take from it must be ours or root's (OpenSSH's StrictModes idea);
//   - the target must be a regular file or absent: a directory, FIFO, socket or device is
//     refused, and never opened in a way that can block;
//   - an existing target not owned by us is refused, unless `replace_foreign`: then it is
//     replaced by a new file of ours (new_file_mode) and its contents are not read.
//
// Errors are values: errc::file with a one-line message naming the path (and the component at
// fault) and the OS reason, e.g.
// "cannot write /x/credentials: No space left on device (the file was not changed)".
// A path that names no file ("", "dir/", ".") is errc::invalid_input.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "util/error.hpp"
#include "util/secret.hpp"

namespace awh::util {

// Reads the whole file at `path` (symlinks followed). std::nullopt if it does not exist (ENOENT).
// Anything but a regular file (a directory, a FIFO, a device) is an error and is never read: it
// is opened with O_NONBLOCK and checked with fstat() first, so a FIFO can't hang the caller. More
// than `max_size` bytes is an error too.
Result<std::optional<std::string>> read_file_if_exists(const std::string& path,
                                                       std::size_t max_size = 16 << 20);

struct AtomicWriteOptions {
  mode_t new_file_mode = 0600;  // for a file that does not exist yet (exact: the umask is ignored)
  mode_t new_dir_mode = 0700;   // for missing parent directories (exact: the umask is ignored)
  // An existing file of ours keeps its permission bits when they give others nothing and the
  // group no write (anything wider is cut to at most 0640, with one warning); false: it gets
  // new_file_mode (a bearer token file must be 0600 whatever was there before).
  bool keep_existing_mode = true;
  // An existing file owned by another user: replaced by a new file of ours (new_file_mode, its
  // contents not read) instead of refused (--force).
  bool replace_foreign = false;
  // Directories writable by other users are accepted: the bearer token file of `serve`, on a
  // pod's shared emptyDir volume, which Kubernetes creates 0777. Every other rule still holds
  // (symlinks and files of other users are refused; the file is always a new one of ours).
  bool shared_directory_ok = false;
  // How long to wait for another writer's lock before giving up.
  std::chrono::milliseconds lock_wait{10000};
};

// Computes the new contents from the current ones (nullopt: no file, or a foreign file being
// replaced). An error leaves the file untouched and is returned as it is.
using Edit = std::function<Result<SecretString>(std::optional<std::string_view> existing)>;

// Read-modify-replace under an exclusive flock() on `.<name>.lock` beside the target (created
// 0600 and left in place; only remove_file_atomically() removes it, while holding it, and a
// writer that locked a lock file that is no longer at its name locks the new one instead). A reader
// sees the old file or the new one, never a mix, and a crash leaves one of the two on disk:
//   - missing parent directories are created (like `mkdir -p`) with new_dir_mode;
//   - a temp file `.<name>.tmp-<random hex>` is created 0600 beside the target (O_EXCL,
//     O_NOFOLLOW), written, fsync'ed, given its final mode and renamed over the target; then the
//     directory is fsync'ed; temp files of ours left by a killed run are removed afterwards;
//   - the result is always owned by us; an existing file of ours keeps its group;
//   - if `path` is an allowed symlink, the file it points to is replaced and the link is left
//     as it is, so it keeps working. A dangling symlink is an error.
// On failure the target is untouched, no temp file is left behind, and the message ends with
// "(the file was not changed)". The one exception: if only the final directory fsync fails, the
// new contents are already in place, and the message says so.
Result<void> update_file_atomically(const std::string& path, const Edit& edit,
                                    const AtomicWriteOptions& options = {});

// update_file_atomically() with contents that don't depend on the current ones (not read).
Result<void> write_file_atomically(const std::string& path, std::string_view contents,
                                   const AtomicWriteOptions& options = {});

// Removes `path` (the path rules above apply) and its lock file, holding the writers' lock
// (waiting at most options.lock_wait), so that no writer is between its read and its rename;
// `keep`, asked under the lock, may still keep the file (it changed meanwhile). True when the
// file was removed; false when `keep` kept it or it was absent (its lock file is removed then
// too). errc::file when the lock is busy past lock_wait or the file can't be removed.
Result<bool> remove_file_atomically(const std::string& path, const std::function<bool()>& keep = {},
                                    const AtomicWriteOptions& options = {});

// Start-up check for a daemon that will later write `path`: applies the path rules above
// (creating the missing parent directories with new_dir_mode) and checks that the directory is
// writable by this process (faccessat with AT_EACCESS), so a bad path fails at once with a clear
// error instead of at the first renewal. The file itself is neither created nor changed.
Result<void> prepare_directory(const std::string& path, const AtomicWriteOptions& options = {});

}  // namespace awh::util
