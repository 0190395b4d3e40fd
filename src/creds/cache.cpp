#include "creds/cache.hpp"

#include <string.h>

#include <fmt/format.h>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "crypto/openssl.hpp"
#include "util/time.hpp"

namespace awh::creds {

std::string cache_key(const CacheKeyInput& in) {
  // A JSON array: each field is quoted and escaped, so no two inputs serialise the same way.
  // The leading version string changes the key whenever the entry format changes.
  const boost::json::array fields{
      "awh-cache-v1", in.command,     in.endpoint,  in.region,           in.trust_anchor_arn,
      in.profile_arn, in.role_arn,    in.audience,  in.duration_seconds, in.role_session_name,
      in.spiffe_id,   in.svid_serial, in.jwt_expiry};
  return crypto::sha256_hex(boost::json::serialize(fields));
}

bool cache_reusable(std::chrono::system_clock::time_point expiration,
                    std::chrono::system_clock::time_point now) {
  return expiration - now > kCacheMinRemaining;
}

bool cache_sweepable(std::chrono::system_clock::time_point when,
                     std::chrono::system_clock::time_point now) {
  return now - when > kCacheSweepAfter;
}

std::string serialize_cache_entry(const Credentials& c) { return credential_process_json(c); }

std::optional<CacheEntry> parse_cache_entry(std::string_view text) {
  boost::system::error_code ec;
  auto value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  auto& o = value.as_object();
  const auto* version = o.if_contains("Version");
  if (version == nullptr || !version->is_int64() || version->as_int64() != 1) return std::nullopt;
  CacheEntry entry;
  Credentials& c = entry.credentials;
  bool whole = true;
  for (const auto& [name, field] :
       {std::pair{"AccessKeyId", &c.access_key_id},
        std::pair{"SecretAccessKey", &c.secret_access_key},
        std::pair{"SessionToken", &c.session_token}, std::pair{"Expiration", &c.expiration}}) {
    auto* v = o.if_contains(name);
    if (v == nullptr || !v->is_string() || v->as_string().empty()) {
      whole = false;
      continue;
    }
    field->assign(v->as_string().data(), v->as_string().size());
    // The parsed document held the secrets: leave no copy in freed memory.
    explicit_bzero(v->as_string().data(), v->as_string().size());
  }
  if (!whole) return std::nullopt;
  auto expiration = util::parse_rfc3339(c.expiration);
  if (!expiration) return std::nullopt;
  entry.expiration = *expiration;
  return entry;
}

std::string default_cache_dir(const std::optional<std::string>& xdg_runtime_dir, uid_t uid) {
  // The XDG Base Directory spec: an absolute path, else it is to be ignored.
  if (xdg_runtime_dir && !xdg_runtime_dir->empty() && xdg_runtime_dir->front() == '/') {
    return *xdg_runtime_dir + "/aws-spiffe-workload-helper";
  }
  return fmt::format("/tmp/aws-spiffe-workload-helper-{}", uid);
}

}  // namespace awh::creds
