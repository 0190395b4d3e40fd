#pragma once
// AWS Signature Version 4 with an HMAC key (AWS docs "Create a signed AWS API request", the
// "Signature Version 4 signing process"): what `whoami` signs STS GetCallerIdentity with, using
// the credentials the exchange just returned. The canonical request is SigV4's, shared with
// SigV4-X509 (aws/sigv4x509.hpp); only the algorithm name, the scope's service and the signing
// key differ. Pure: time, credentials and request are inputs.

#include <string_view>

#include "aws/sigv4x509.hpp"

namespace awh::aws {

inline constexpr char kHmacAlgorithm[] = "AWS4-HMAC-SHA256";

// "<yyyymmdd>/<region>/<service>/aws4_request"
std::string hmac_credential_scope(std::string_view amz_date, std::string_view region,
                                  std::string_view service);

// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, yyyymmdd), region), service), "aws4_request")
std::string hmac_signing_key(std::string_view secret_access_key, std::string_view amz_date,
                             std::string_view region, std::string_view service);

// Signs `in` (its headers are exactly the ones to sign; add X-Amz-Security-Token to them when
// the credentials have a session token). `Authorization: AWS4-HMAC-SHA256
// Credential=<access key id>/<scope>, SignedHeaders=<…>, Signature=<hex>`.
Signature sign_hmac(const SigningInput& in, std::string_view service,
                    std::string_view access_key_id, std::string_view secret_access_key);

}  // namespace awh::aws
