// The STS AssumeRoleWithWebIdentity answer (aws/sts.hpp). Input: a status byte, then the XML
// body. Properties: credentials only from a 2xx, every field set and trimmed; what was read,
// written back as an STS document, reads back the same; errors are one bounded line.

#include <string>

#include "aws/sts.hpp"
#include "fuzz.hpp"

namespace {

// XML character data (XML 1.0 §2.4), or nullopt for a character XML 1.0 can't carry.
bool xml_text(std::string_view value, std::string& out) {
  for (unsigned char c : value) {
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\r':
        out += "&#13;";
        break;
      default:
        out.push_back(static_cast<char>(c));
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const auto f = awh::fuzz::fields(data, size, 2);
  const auto response = awh::fuzz::aws_response(f[0], f[1], 200, "text/xml");
  const auto c = awh::aws::parse_assume_role_with_web_identity_response(response);
  if (!c) {
    awh::fuzz::check_error_line(c.error());
    return 0;
  }
  FUZZ_CHECK(response.status >= 200 && response.status <= 299);
  std::string body =
      "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
      "<AssumeRoleWithWebIdentityResult><Credentials>";
  for (const auto& [name, value] :
       {std::pair{"AccessKeyId", &c->access_key_id},
        std::pair{"SecretAccessKey", &c->secret_access_key},
        std::pair{"SessionToken", &c->session_token}, std::pair{"Expiration", &c->expiration}}) {
    FUZZ_CHECK(!value->empty());
    FUZZ_CHECK(value->find_first_of(" \t\r\n") != 0);
    FUZZ_CHECK(value->find_last_of(" \t\r\n") != value->size() - 1);
    body += std::string("<") + name + ">";
    if (!xml_text(*value, body)) return 0;
    body += std::string("</") + name + ">";
  }
  body += "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
  awh::net::HttpResponse again = response;
  again.body = body;
  const auto back = awh::aws::parse_assume_role_with_web_identity_response(again);
  FUZZ_CHECK(back.has_value());
  FUZZ_CHECK(back->access_key_id == c->access_key_id &&
             back->secret_access_key == c->secret_access_key &&
             back->session_token == c->session_token && back->expiration == c->expiration);
  return 0;
}
