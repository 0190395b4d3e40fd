#pragma once
// The credentials-file sink (ARCHITECTURE.md, "Credentials file"): reads the file, sets our
// profile's three keys with the byte-preserving INI editor, and replaces the file atomically.
// On any error the file is left exactly as it was.

#include <string>

#include "creds/credentials.hpp"
#include "util/error.hpp"

namespace awh::creds {

struct FileTarget {
  std::string path;                 // --aws-credentials-path
  std::string profile = "default";  // --profile
  bool force = false;               // --force: a file we can't parse is overwritten (warned)
  bool replace = false;             // --replace: the file holds only our profile
};

// Start-up checks, before any network I/O: the directory exists (created 0700 if missing) and
// is writable, and the file, if any, can be parsed (unless --force or --replace).
Result<void> preflight(const FileTarget& target);

// Writes `c` into the target profile.
Result<void> write_credentials(const FileTarget& target, const Credentials& c);

}  // namespace awh::creds
