#include "creds/credentials.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/crypto.h>

namespace awh::creds {

Credentials::~Credentials() {
  OPENSSL_cleanse(secret_access_key.data(), secret_access_key.size());
  OPENSSL_cleanse(session_token.data(), session_token.size());
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
