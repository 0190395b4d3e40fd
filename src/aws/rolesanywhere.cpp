#include "aws/rolesanywhere.hpp"

#include "aws/errors.hpp"

#include <fmt/format.h>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <ctime>

namespace awh::aws {
namespace {

std::string_view string_field(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return v->get_string();
}

}  // namespace

std::string amz_date(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[20];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

Result<SignedRequest> build_create_session(const CreateSessionParams& params,
                                           const net::Url& endpoint,
                                           const SigningIdentity& identity,
                                           std::chrono::system_clock::time_point now) {
  if (identity.intermediates_der.size() > kMaxChainCertificates) {
    return make_error(
        errc::invalid_input,
        fmt::format("the SVID has {} intermediate certificates; Roles Anywhere accepts at most {}",
                    identity.intermediates_der.size(), kMaxChainCertificates));
  }
  SigningInput in;
  in.method = "POST";
  in.path = endpoint.base_path + "/sessions";
  in.query = {{"profileArn", params.profile_arn},
              {"roleArn", params.role_arn},
              {"trustAnchorArn", params.trust_anchor_arn}};
  boost::json::object body;
  body["durationSeconds"] = params.duration_seconds;
  if (params.role_session_name) body["roleSessionName"] = *params.role_session_name;
  in.body = boost::json::serialize(body);
  in.amz_date = amz_date(now);
  in.region = params.region;

  // Exactly what AWS's credential helper signs (ARCHITECTURE.md, "Roles Anywhere").
  in.headers = {{"Content-Type", "application/json"},
                {"Host", endpoint.host_header()},
                {"X-Amz-Date", in.amz_date},
                {"X-Amz-X509", crypto::base64(identity.leaf_der)}};
  if (!identity.intermediates_der.empty()) {
    std::string chain;
    for (const auto& der : identity.intermediates_der) {
      if (!chain.empty()) chain.push_back(',');
      chain += crypto::base64(der);
    }
    in.headers.emplace_back("X-Amz-X509-Chain", std::move(chain));
  }

  auto signature = sign(in, identity.key, identity.serial_decimal);
  if (!signature) return signature.error();

  SignedRequest out;
  out.request.method = in.method;
  out.request.target = fmt::format("{}?{}", in.path, canonical_query(in.query));
  out.request.headers = in.headers;
  out.request.headers.emplace_back("Authorization", signature->authorization);
  out.request.headers.emplace_back("Accept", "application/json");
  out.request.headers.emplace_back("User-Agent", "aws-spiffe-workload-helper/" AWH_VERSION);
  out.request.body = std::move(in.body);
  out.signature = std::move(*signature);
  return out;
}

Error aws_error(const net::HttpResponse& response) {
  std::string code = response.header("X-Amzn-ErrorType");
  // The header may carry a suffix such as ":http://internal.amazon.com/...".
  if (const auto colon = code.find(':'); colon != std::string::npos) code.resize(colon);
  std::string message;
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(response.body, ec);
  if (!ec && parsed.is_object()) {
    const auto& o = parsed.get_object();
    for (const char* key : {"message", "Message", "errorMessage"}) {
      if (auto m = string_field(o, key); !m.empty()) {
        message = m;
        break;
      }
    }
    if (code.empty()) {
      for (const char* key : {"__type", "code", "Code"}) {
        if (auto c = string_field(o, key); !c.empty()) {
          code = c;
          if (const auto hash = code.rfind('#'); hash != std::string::npos) code.erase(0, hash + 1);
          break;
        }
      }
    }
  }
  if (message.empty()) message = "no error message in the response";
  return make_aws_error(response.status, code, message);
}

Result<creds::Credentials> parse_create_session_response(const net::HttpResponse& response) {
  if (response.status < 200 || response.status > 299) return aws_error(response);
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(response.body, ec);
  if (ec || !parsed.is_object()) {
    return make_error(errc::protocol,
                      "CreateSession returned a response that is not a JSON object");
  }
  const auto* set = parsed.get_object().if_contains("credentialSet");
  if (set == nullptr || !set->is_array() || set->get_array().empty() ||
      !set->get_array().front().is_object()) {
    return make_error(errc::protocol, "CreateSession response has no credentialSet");
  }
  const auto* c = set->get_array().front().get_object().if_contains("credentials");
  if (c == nullptr || !c->is_object()) {
    return make_error(errc::protocol, "CreateSession response has no credentials");
  }
  const auto& o = c->get_object();
  creds::Credentials out;
  out.access_key_id = string_field(o, "accessKeyId");
  out.secret_access_key = string_field(o, "secretAccessKey");
  out.session_token = string_field(o, "sessionToken");
  out.expiration = string_field(o, "expiration");
  for (const auto& [name, value] :
       {std::pair{"accessKeyId", &out.access_key_id},
        std::pair{"secretAccessKey", &out.secret_access_key},
        std::pair{"sessionToken", &out.session_token}, std::pair{"expiration", &out.expiration}}) {
    if (value->empty()) {
      return make_error(errc::protocol,
                        fmt::format("CreateSession response is missing credentials.{}", name));
    }
  }
  return out;
}

}  // namespace awh::aws
