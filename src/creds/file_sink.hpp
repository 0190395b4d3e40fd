#pragma once
// The credentials-file sink (ARCHITECTURE.md, "Credentials file"): reads the file, sets our
// profile's three keys with the byte-preserving INI editor, and replaces the file atomically.
// On any error the file is left exactly as it was. The path rules are util/atomic_file.hpp's.

#include <string>
#include <vector>

#include "creds/credentials.hpp"
#include "util/error.hpp"

namespace awh::creds {

struct FileTarget {
  std::string path;                 // --aws-credentials-path
  std::string profile = "default";  // --profile
  // --force: a file we can't parse is overwritten, and a file owned by another user is replaced
  // by a new file of ours holding only our profile (both warned).
  bool force = false;
  bool replace = false;  // --replace: the file holds only our profile
};

// Start-up checks, before any network I/O: the directory exists (created 0700 if missing) and
// is writable, and the file, if any, can be parsed (unless --force or --replace).
Result<void> preflight(const FileTarget& target);

// Writes `c` into the target profile.
Result<void> write_credentials(const FileTarget& target, const Credentials& c);

// Writes several profiles of one file in one read-modify-rename (--config: several exchanges
// writing to one file). `file` gives the path and --force/--replace (its profile is unused);
// the profiles must differ. With `replace` the file holds exactly these profiles.
struct ProfileCredentials {
  std::string profile;
  const Credentials* credentials = nullptr;
};
Result<void> write_profiles(const FileTarget& file, const std::vector<ProfileCredentials>& entries);

}  // namespace awh::creds
