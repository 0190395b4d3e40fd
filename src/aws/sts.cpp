#include "aws/sts.hpp"

#include <fmt/format.h>

#include <rapidxml/rapidxml.hpp>

#include <cctype>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "aws/errors.hpp"
#include "aws/rolesanywhere.hpp"
#include "aws/sigv4.hpp"
#include "aws/sigv4x509.hpp"
#include "util/secret.hpp"
#include "util/text.hpp"

namespace awh::aws {
namespace {

// Appends "&name=value", the value form-encoded. The Query protocol takes RFC 3986 unreserved
// characters verbatim and everything else as %XX, which is exactly SigV4's uri_encode.
void append_param(std::string& body, std::string_view name, std::string_view value) {
  std::string encoded = uri_encode(value);
  body += '&';
  body += name;
  body += '=';
  body += encoded;
  // The value may be the token: leave no copy behind in freed memory.
  util::wipe(encoded);
}

using XmlNode = rapidxml::xml_node<char>;

std::string_view local_name(const XmlNode* node) {
  const std::string_view name(node->name(), node->name_size());
  const auto colon = name.rfind(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

// The first child element called `name`, whatever its namespace prefix; null if none.
const XmlNode* child(const XmlNode* parent, std::string_view name) {
  if (parent == nullptr) return nullptr;
  for (const XmlNode* node = parent->first_node(); node; node = node->next_sibling()) {
    if (node->type() == rapidxml::node_element && local_name(node) == name) return node;
  }
  return nullptr;
}

// The element's text (its first text or CDATA child), without surrounding whitespace.
std::string_view trimmed_text(const XmlNode* element) {
  if (element == nullptr) return {};
  std::string_view text;
  for (const XmlNode* node = element->first_node(); node; node = node->next_sibling()) {
    if (node->type() == rapidxml::node_data || node->type() == rapidxml::node_cdata) {
      text = std::string_view(node->value(), node->value_size());
      break;
    }
  }
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// An XML document parsed in place from `text` (a NUL-terminated buffer the caller keeps and
// wipes: the nodes point into it, and entities are decoded in it, so no copy of the body is
// made). rapidxml (a DOM parser, in Debian as librapidxml-dev) never reads external entities or
// DTDs; closing tags must match their elements. The document is on the heap: it embeds a 64 KiB
// node pool.
struct XmlDocument {
  std::unique_ptr<rapidxml::xml_document<char>> doc =
      std::make_unique<rapidxml::xml_document<char>>();
  const XmlNode* root = nullptr;  // the document element; null when the text is not XML

  explicit XmlDocument(char* text) {
    try {
      doc->parse<rapidxml::parse_validate_closing_tags>(text);
    } catch (const rapidxml::parse_error&) {
      return;
    }
    for (const XmlNode* node = doc->first_node(); node; node = node->next_sibling()) {
      if (node->type() == rapidxml::node_element) {
        root = node;
        break;
      }
    }
  }
};

bool token_char(unsigned char c) {
  return std::isalnum(c) || c == '+' || c == '/' || c == '=' || c == '-' || c == '_' || c == '.';
}

// Text from a peer, made fit for a one-line log message: whitespace runs collapsed, control and
// non-ASCII bytes escaped, at most about `max` characters. Runs of 80 or more base64/base64url/JWT
// characters are redacted in case an error page or message echoes the request's token (a JWT is
// hundreds of such characters; AWS identifiers and names are shorter). Credentials come only in
// 2xx bodies, which are never quoted.
std::string sanitize(std::string_view text, std::size_t max) {
  constexpr std::size_t kSecretRun = 80;
  std::string plain;
  bool space = false;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = !plain.empty();
      ++i;
      continue;
    }
    if (space) plain.push_back(' ');
    space = false;
    std::size_t end = i + 1;
    if (token_char(c)) {
      while (end < text.size() && token_char(static_cast<unsigned char>(text[end]))) ++end;
    }
    if (end - i >= kSecretRun) {
      plain += "[redacted]";
    } else {
      plain.append(text.substr(i, end - i));
    }
    i = end;
  }
  return util::escape_text(plain, max, util::Bytes::ascii);
}

Error sts_error(unsigned status, const XmlNode* error_response) {
  // STS sends ErrorResponse/Error; some Query-protocol servers (older moto) nest it in Errors.
  auto error = child(error_response, "Error");
  if (!error) error = child(child(error_response, "Errors"), "Error");
  std::string code = sanitize(trimmed_text(child(error, "Code")), 100);
  std::string message = sanitize(trimmed_text(child(error, "Message")), 500);
  if (message.empty()) message = "no error message in the response";
  return make_aws_error(status, code, message);
}

Error http_error(const net::HttpResponse& response) {
  const auto excerpt = sanitize(response.body, 200);
  Error e = make_aws_error(response.status, {}, {});
  e.message = excerpt.empty() ? fmt::format("HTTP {} from STS with an empty body", response.status)
                              : fmt::format("HTTP {} from STS without an error document: \"{}\"",
                                            response.status, excerpt);
  return e;
}

}  // namespace

net::HttpRequest build_assume_role_with_web_identity(const net::Url& endpoint,
                                                     const WebIdentityParams& params,
                                                     std::string_view token) {
  net::HttpRequest request;
  request.method = "POST";
  // Query-protocol requests go to "/"; under an endpoint with a path, to that path (what botocore
  // does with endpoint_url).
  request.target = endpoint.base_path.empty() ? "/" : endpoint.base_path;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                     {"Host", endpoint.host_header()},
                     // STS's default answer is XML; asking for it explicitly rules out the JSON
                     // variant some Query services send for other Accept values.
                     {"Accept", "text/xml"},
                     {"User-Agent", "aws-spiffe-workload-helper/" AWH_VERSION}};
  // Reserve once so the token is never left behind by a reallocation.
  std::size_t size = 128 + 3 * token.size();
  if (params.role_arn) size += 3 * params.role_arn->size();
  if (params.role_session_name) size += 3 * params.role_session_name->size();
  request.body.reserve(size);
  request.body = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15";
  append_param(request.body, "DurationSeconds", std::to_string(params.duration_seconds));
  if (params.role_arn) append_param(request.body, "RoleArn", *params.role_arn);
  if (params.role_session_name) {
    append_param(request.body, "RoleSessionName", *params.role_session_name);
  }
  append_param(request.body, "WebIdentityToken", token);
  return request;
}

Result<creds::Credentials> parse_assume_role_with_web_identity_response(
    const net::HttpResponse& response) {
  const bool success = response.status >= 200 && response.status <= 299;
  // Parsed in place (XmlDocument): the body holds the secret key and the session token, so the
  // buffer is wiped when it goes (declared first, destroyed last).
  util::SecretString buffer(response.body);
  const XmlDocument doc(buffer.data());
  const XmlNode* root = doc.root;
  if (root == nullptr) {
    if (!success) return http_error(response);
    // No excerpt: a 2xx body may hold credentials.
    return make_error(errc::protocol, "STS returned a response that is not XML");
  }
  if (local_name(root) == "ErrorResponse") return sts_error(response.status, root);
  if (!success) return http_error(response);
  if (local_name(root) != "AssumeRoleWithWebIdentityResponse") {
    return make_error(errc::protocol, "STS response is not an AssumeRoleWithWebIdentityResponse");
  }
  const auto result = child(root, "AssumeRoleWithWebIdentityResult");
  if (!result) {
    return make_error(errc::protocol, "STS response has no AssumeRoleWithWebIdentityResult");
  }
  const auto credentials = child(result, "Credentials");
  if (!credentials) return make_error(errc::protocol, "STS response has no Credentials");
  creds::Credentials out;
  for (const auto& [name, field] :
       {std::pair{"AccessKeyId", &out.access_key_id},
        std::pair{"SecretAccessKey", &out.secret_access_key},
        std::pair{"SessionToken", &out.session_token}, std::pair{"Expiration", &out.expiration}}) {
    const auto value = trimmed_text(child(credentials, name));
    if (value.empty()) {
      return make_error(errc::protocol, fmt::format("STS response has no Credentials/{}", name));
    }
    field->assign(value);
  }
  return out;
}

SignedStsRequest build_get_caller_identity(const net::Url& endpoint, std::string_view region,
                                           const creds::Credentials& credentials,
                                           std::chrono::system_clock::time_point now) {
  SigningInput in;
  in.method = "POST";
  in.path = endpoint.base_path.empty() ? "/" : endpoint.base_path;
  in.body = "Action=GetCallerIdentity&Version=2011-06-15";
  in.amz_date = amz_date(now);
  in.region = std::string(region);
  in.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                {"Host", endpoint.host_header()},
                {"X-Amz-Date", in.amz_date}};
  // Temporary credentials: the session token travels in X-Amz-Security-Token, and is signed.
  if (!credentials.session_token.empty()) {
    in.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  SignedStsRequest out;
  out.signature = sign_hmac(in, "sts", credentials.access_key_id, credentials.secret_access_key);
  out.request.method = in.method;
  out.request.target = in.path;
  out.request.headers = std::move(in.headers);
  out.request.headers.emplace_back("Authorization", out.signature.authorization);
  out.request.headers.emplace_back("Accept", "text/xml");
  out.request.headers.emplace_back("User-Agent", "aws-spiffe-workload-helper/" AWH_VERSION);
  out.request.body = std::move(in.body);
  return out;
}

Result<CallerIdentity> parse_get_caller_identity_response(const net::HttpResponse& response) {
  const bool success = response.status >= 200 && response.status <= 299;
  std::string text = response.body;  // parsed in place
  const XmlDocument doc(text.data());
  const XmlNode* root = doc.root;
  if (root == nullptr) {
    if (!success) return http_error(response);
    return make_error(errc::protocol, "STS returned a GetCallerIdentity response that is not XML");
  }
  if (local_name(root) == "ErrorResponse") return sts_error(response.status, root);
  if (!success) return http_error(response);
  if (local_name(root) != "GetCallerIdentityResponse") {
    return make_error(errc::protocol, "STS response is not a GetCallerIdentityResponse");
  }
  const auto result = child(root, "GetCallerIdentityResult");
  if (!result) return make_error(errc::protocol, "STS response has no GetCallerIdentityResult");
  CallerIdentity out;
  for (const auto& [name, field] : {std::pair{"Account", &out.account}, std::pair{"Arn", &out.arn},
                                    std::pair{"UserId", &out.user_id}}) {
    const auto value = trimmed_text(child(result, name));
    if (value.empty()) {
      return make_error(errc::protocol,
                        fmt::format("STS response has no GetCallerIdentityResult/{}", name));
    }
    // Shown to people: escaped like any text from a peer.
    *field = util::escape_text(value, 300, util::Bytes::ascii);
  }
  return out;
}

}  // namespace awh::aws
