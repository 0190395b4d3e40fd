#include "aws/sts.hpp"

#include <fmt/format.h>

#include <pugixml.hpp>

#include <cctype>
#include <string>
#include <string_view>
#include <utility>

#include "aws/errors.hpp"
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

std::string_view local_name(const char* qualified) {
  const std::string_view name(qualified);
  const auto colon = name.rfind(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

// The first child element called `name`, whatever its namespace prefix; empty if none.
pugi::xml_node child(pugi::xml_node parent, std::string_view name) {
  for (auto node : parent.children()) {
    if (node.type() == pugi::node_element && local_name(node.name()) == name) return node;
  }
  return {};
}

std::string_view trimmed_text(pugi::xml_node node) {
  std::string_view text = node.child_value();
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

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

Error sts_error(unsigned status, pugi::xml_node error_response) {
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
  // pugixml parses in place and points into the buffer; the body holds the secret key and the
  // session token, so the buffer is wiped when it goes (declared first, destroyed last).
  util::SecretString buffer(response.body);
  pugi::xml_document doc;
  // In place and as UTF-8, so that pugixml makes no converted copy of the secrets we can't wipe.
  // pugixml never fetches external entities or DTDs.
  const auto parsed = doc.load_buffer_inplace(buffer.data(), buffer.size(), pugi::parse_default,
                                              pugi::encoding_utf8);
  const auto root = doc.document_element();
  if (!parsed || !root) {
    if (!success) return http_error(response);
    // No excerpt: a 2xx body may hold credentials.
    return make_error(errc::protocol, "STS returned a response that is not XML");
  }
  if (local_name(root.name()) == "ErrorResponse") return sts_error(response.status, root);
  if (!success) return http_error(response);
  if (local_name(root.name()) != "AssumeRoleWithWebIdentityResponse") {
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

}  // namespace awh::aws
