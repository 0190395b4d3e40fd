#include "creds/credentials.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "util/secret.hpp"

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

}  // namespace awh::creds
