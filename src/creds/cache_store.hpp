#pragma once
// The credential_process cache on disk (`--cache`, creds/cache.hpp has the decisions): one
// directory, private to the user, with one entry `<key>.json` and one lock file `<key>.lock` per
// key. The key is a hash: file names reveal nothing about the identity or the role.
//
// Path safety (the same rules as for the credentials file, ARCHITECTURE.md "Credentials file"):
//  - the directory is created 0700 if missing and must then be a real directory (not a
//    symlink), owned by this user, with no group or other access; anything else is refused;
//  - entries hold credentials: they are written 0600 through a temp file and a rename (a reader
//    sees a whole entry or none), and read without following symlinks;
//  - an entry that is missing, unreadable, not a regular file, not ours, group/other-accessible,
//    or not a whole valid entry is ignored (and replaced by the next exchange), never an error.
//
// Clean-up (sweep): entries past use (creds::cache_sweepable) are removed with their lock files,
// each only while holding its lock, and after checking again under the lock. A lock file is
// unlinked only by the holder of its lock, so try_lock() checks, after taking a lock, that the
// file it locked is still the one at the path (same device and inode), and otherwise tries again
// with the new file: a run that opened the file before the sweeper unlinked it never believes
// it holds the lock a newer run holds. Files that are not ours, not regular, or not named like
// our keys are never touched.
//
// All calls block briefly (local files); they run on the io_context's thread like the file sink.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "creds/cache.hpp"
#include "util/error.hpp"

namespace awh::creds {

// Creates `dir` (one level, 0700) if it does not exist and checks it as above. errc::file with
// a message naming the directory and what is wrong.
Result<void> prepare_cache_dir(const std::string& dir);

// An flock(2) held on a key's lock file; released when destroyed (the descriptor is closed).
class CacheLock {
 public:
  explicit CacheLock(int fd) : fd_(fd) {}
  CacheLock(CacheLock&& other) noexcept;
  CacheLock& operator=(CacheLock&& other) noexcept;
  ~CacheLock();

 private:
  int fd_ = -1;
};

class CacheStore {
 public:
  explicit CacheStore(std::string dir) : dir_(std::move(dir)) {}

  std::string entry_path(const std::string& key) const;
  // The entry for `key` if there is a usable one (see above); nullopt otherwise.
  std::optional<CacheEntry> read(const std::string& key) const;
  // Writes the entry atomically, 0600. errc::file on failure (the caller only logs it).
  Result<void> write(const std::string& key, const Credentials& credentials) const;
  std::string lock_path(const std::string& key) const;
  // Takes the key's exclusive lock without waiting: the lock, or nullopt while another process
  // holds it. errc::file if the lock file can't be opened.
  Result<std::optional<CacheLock>> try_lock(const std::string& key) const;
  // Removes the entries past use at `now` and their lock files (see above), skipping any whose
  // lock is held; looks at most at `max_keys` keys. Returns how many keys it removed. Never an
  // error: what can't be removed stays.
  std::size_t sweep(std::chrono::system_clock::time_point now, std::size_t max_keys = 1000) const;

 private:
  std::string dir_;
};

}  // namespace awh::creds
