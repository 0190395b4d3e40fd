#pragma once
// Whole-file reads and crash-safe whole-file replacement (ARCHITECTURE.md, "Credentials file").
// POSIX/Linux only. Every call blocks (fsync can take a while on a busy disk), so run them where
// blocking is acceptable. Functions are safe to call from any thread; writers of the same path
// must not overlap (the last rename wins, but each writer's result is still a whole file).
//
// Errors are values: errc::file with a one-line message naming the path and the OS reason, e.g.
// "cannot write /x/credentials: No space left on device (the file was not changed)".
// A path that names no file ("", "dir/", ".") is errc::invalid_input.

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace awh::util {

// Reads the whole file at `path` (symlinks followed). std::nullopt if it does not exist (ENOENT);
// any other failure, a directory, or more than `max_size` bytes is an error.
Result<std::optional<std::string>> read_file_if_exists(const std::string& path,
                                                       std::size_t max_size = 16 << 20);

struct AtomicWriteOptions {
  mode_t new_file_mode = 0600;  // for a file that does not exist yet (exact: the umask is ignored)
  mode_t new_dir_mode = 0700;   // for missing parent directories (exact: the umask is ignored)
  // An existing file keeps its permission bits; false: it gets new_file_mode too (a bearer
  // token file must be 0600 whatever was there before).
  bool keep_existing_mode = true;
};

// Replaces the file at `path` with `contents` so that a concurrent reader sees either the old
// file or the new one, never a mix, and a crash leaves one of the two on disk:
//   - missing parent directories are created (like `mkdir -p`) with new_dir_mode;
//   - a temp file `.<name>.tmp-<random hex>` is created beside the target (O_EXCL, O_NOFOLLOW),
//     written, fsync'ed and renamed over the target; then the directory is fsync'ed;
//   - an existing file keeps its permission bits (unless keep_existing_mode is false) and, when
//     running as root, its owner and group; a new file gets new_file_mode;
//   - if `path` is a symlink, the file it points to is replaced and the link is left as it is,
//     so it keeps working. A dangling symlink is an error.
// On failure the target is untouched, no temp file is left behind, and the message ends with
// "(the file was not changed)". The one exception: if only the final directory fsync fails, the
// new contents are already in place, and the message says so.
Result<void> write_file_atomically(const std::string& path, std::string_view contents,
                                   const AtomicWriteOptions& options = {});

// Start-up check for a daemon that will later call write_file_atomically(path, ...): creates the
// missing parent directories of the file `path` (new_dir_mode) and checks that the directory is
// writable by this process (faccessat with AT_EACCESS, W_OK|X_OK), so a read-only directory
// fails at once with a clear error instead of at the first renewal. Symlinks are resolved the
// same way as by write_file_atomically. The file itself is neither created nor checked.
Result<void> prepare_directory(const std::string& path, const AtomicWriteOptions& options = {});

}  // namespace awh::util
