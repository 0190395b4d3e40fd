// The Roles Anywhere CreateSession answer (aws/rolesanywhere.hpp). Input: a status byte, then
// the body. Properties: credentials only from a 2xx, with every field set; what was read,
// written back as a CreateSession document, reads back the same; errors are one bounded line.

#include <boost/json.hpp>

#include <string>

#include "aws/rolesanywhere.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const auto f = awh::fuzz::fields(data, size, 2);
  const auto response = awh::fuzz::aws_response(f[0], f[1], 201, "application/json");
  const auto c = awh::aws::parse_create_session_response(response);
  if (!c) {
    awh::fuzz::check_error_line(c.error());
    return 0;
  }
  FUZZ_CHECK(response.status >= 200 && response.status <= 299);
  FUZZ_CHECK(!c->access_key_id.empty() && !c->secret_access_key.empty() &&
             !c->session_token.empty() && !c->expiration.empty());
  boost::json::object creds{{"accessKeyId", c->access_key_id},
                            {"secretAccessKey", c->secret_access_key},
                            {"sessionToken", c->session_token},
                            {"expiration", c->expiration}};
  boost::json::object entry{{"credentials", creds}};
  boost::json::object doc{{"credentialSet", boost::json::array{entry}}};
  awh::net::HttpResponse again = response;
  again.body = boost::json::serialize(doc);
  const auto back = awh::aws::parse_create_session_response(again);
  FUZZ_CHECK(back.has_value());
  FUZZ_CHECK(back->access_key_id == c->access_key_id &&
             back->secret_access_key == c->secret_access_key &&
             back->session_token == c->session_token && back->expiration == c->expiration);
  return 0;
}
