#pragma once
// IAM Roles Anywhere CreateSession (AWS API reference "CreateSession"; AWS docs "Signing
// process for IAM Roles Anywhere"): building the signed request and reading the response.
// Pure functions; the I/O and retries live in clients.hpp.

#include <openssl/evp.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "aws/sigv4x509.hpp"
#include "creds/credentials.hpp"
#include "net/http.hpp"
#include "net/url.hpp"
#include "util/error.hpp"

namespace awh::aws {

struct CreateSessionParams {
  std::string trust_anchor_arn;
  std::string profile_arn;
  std::string role_arn;
  std::string region;
  int duration_seconds = 3600;
  std::optional<std::string> role_session_name;
};

// The certificate identity a request is signed with. `key` is borrowed.
struct SigningIdentity {
  EVP_PKEY* key = nullptr;
  std::string leaf_der;
  std::vector<std::string> intermediates_der;  // leaf excluded, issuer order
  std::string serial_decimal;
};

inline constexpr std::size_t kMaxChainCertificates = 5;  // X-Amz-X509-Chain limit

struct SignedRequest {
  net::HttpRequest request;
  Signature signature;  // canonical request etc., for debug logs (public data only)
};

// "YYYYMMDDTHHMMSSZ" in UTC.
std::string amz_date(std::chrono::system_clock::time_point t);

Result<SignedRequest> build_create_session(const CreateSessionParams& params,
                                           const net::Url& endpoint,
                                           const SigningIdentity& identity,
                                           std::chrono::system_clock::time_point now);

// 2xx with a credentialSet -> credentials; anything else -> an Error whose message reads like
// "AccessDeniedException: Invalid signature (HTTP 403)" and whose code says if it's retryable.
Result<creds::Credentials> parse_create_session_response(const net::HttpResponse& response);

// For non-2xx answers: the AWS error code and message, classified (429/throttling and 5xx are
// retryable).
Error aws_error(const net::HttpResponse& response);

}  // namespace awh::aws
