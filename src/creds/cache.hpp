#pragma once
// The credential_process cache (`--cache`): the pure decisions. Which entry a run may reuse (the
// key), whether an entry is still fresh enough to hand out, and the entry's file format. The
// files and the lock are in creds/cache_store.hpp; the engine's step in engine/cache.hpp.
//
// An SDK runs the credential process again for every new process or client, so parallel test
// runners and CI jobs call CreateSession many times a second and hit its rate limit. With
// `--cache` the result of one exchange is kept, per identity, and handed to every run that would
// make the same exchange with the same SVID while it stays fresh.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "creds/credentials.hpp"

namespace awh::creds {

// Everything that decides which credentials an exchange returns. Two runs share an entry only if
// every field is equal.
struct CacheKeyInput {
  std::string command;   // "x509-credential-process"
  std::string endpoint;  // the exchange's endpoint URL
  std::string region;
  // Roles Anywhere: the three ARNs; STS: the audience and the role ARN (empty without one).
  std::string trust_anchor_arn;
  std::string profile_arn;
  std::string role_arn;
  std::string audience;
  int duration_seconds = 0;
  std::string role_session_name;  // empty: none given
  // The identity: an X.509-SVID's SPIFFE ID and leaf serial, or a JWT-SVID's subject and expiry
  // (Unix seconds). A rotated SVID is a new key, so it never reuses the old SVID's credentials.
  std::string spiffe_id;
  std::string svid_serial;
  long long jwt_expiry = 0;
};

// SHA-256 (lowercase hex) of an unambiguous serialisation of every field (a JSON array): the
// entry's file name. It reveals nothing but that two runs share it.
std::string cache_key(const CacheKeyInput& in);

// botocore refreshes credential_process credentials that have less than 15 minutes left (its
// advisory refresh window): an entry is handed out only while more than that plus a minute's
// margin remain.
inline constexpr std::chrono::minutes kCacheMinRemaining{16};

// Whether credentials expiring at `expiration` may be reused at `now`: more than
// kCacheMinRemaining left.
bool cache_reusable(std::chrono::system_clock::time_point expiration,
                    std::chrono::system_clock::time_point now);

// Entries are removed (with their lock files) once they are this long past use: their
// credentials expired this long ago, or, for a file that is not a valid entry (or a lock file
// without an entry), it was last written this long ago. The hour absorbs clock changes; until
// then an expired entry only costs its few hundred bytes.
inline constexpr std::chrono::hours kCacheSweepAfter{1};

// Whether an entry (or lock) whose credentials expired, or that was last written, at `when` may
// be removed at `now`.
bool cache_sweepable(std::chrono::system_clock::time_point when,
                     std::chrono::system_clock::time_point now);

// An entry is the credential_process JSON (creds/credentials.hpp).
std::string serialize_cache_entry(const Credentials& c);
// An entry's text -> the credentials and their parsed expiration; nullopt for anything that is
// not a whole, valid entry (a corrupt entry is ignored and replaced, never an error).
struct CacheEntry {
  Credentials credentials;
  std::chrono::system_clock::time_point expiration{};
};
std::optional<CacheEntry> parse_cache_entry(std::string_view text);

// The default directory: $XDG_RUNTIME_DIR/aws-spiffe-workload-helper (a per-user tmpfs that
// systemd makes 0700), else /tmp/aws-spiffe-workload-helper-<uid>.
std::string default_cache_dir(const std::optional<std::string>& xdg_runtime_dir, uid_t uid);

}  // namespace awh::creds
