#include "creds/credentials.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <fmt/format.h>

#include "util/secret.hpp"
#include "util/text.hpp"
#include "util/time.hpp"

namespace awh::creds {

Credentials::~Credentials() {
  util::wipe(secret_access_key);
  util::wipe(session_token);
}

std::string credential_process_json(const Credentials& c) {
  // boost::json::object keeps insertion order, which fixes the key order.
  boost::json::object o;
  o["Version"] = 1;
  o["AccessKeyId"] = c.access_key_id;
  o["SecretAccessKey"] = c.secret_access_key;
  o["SessionToken"] = c.session_token;
  o["Expiration"] = c.expiration;
  return boost::json::serialize(o);
}

Result<std::chrono::system_clock::time_point> check_expiration(
    std::string_view expiration, std::chrono::system_clock::time_point now,
    std::chrono::seconds min_left) {
  const std::string shown = util::escape_text(expiration, 64, util::Bytes::ascii);
  auto parsed = util::parse_rfc3339(expiration);
  if (!parsed) {
    return make_error(errc::protocol,
                      fmt::format("the credentials' Expiration '{}' is not an RFC 3339 time; "
                                  "nothing was written",
                                  shown));
  }
  if (*parsed <= now) {
    return make_error(errc::protocol,
                      fmt::format("the credentials' Expiration {} is already past (is the clock "
                                  "right?); nothing was written",
                                  shown));
  }
  if (*parsed - now < min_left) {
    return make_error(
        errc::protocol,
        fmt::format("the credentials expire at {}, less than {} s from now; nothing was written",
                    shown, min_left.count()));
  }
  return *parsed;
}

}  // namespace awh::creds
