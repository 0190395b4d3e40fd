#include "aws/sigv4.hpp"

#include <fmt/format.h>

#include "crypto/openssl.hpp"
#include "util/secret.hpp"

namespace awh::aws {

std::string hmac_credential_scope(std::string_view amz_date, std::string_view region,
                                  std::string_view service) {
  return fmt::format("{}/{}/{}/aws4_request", amz_date.substr(0, 8), region, service);
}

std::string hmac_signing_key(std::string_view secret_access_key, std::string_view amz_date,
                             std::string_view region, std::string_view service) {
  std::string secret = fmt::format("AWS4{}", secret_access_key);
  std::string date_key = crypto::hmac_sha256(secret, amz_date.substr(0, 8));
  std::string region_key = crypto::hmac_sha256(date_key, region);
  std::string service_key = crypto::hmac_sha256(region_key, service);
  std::string signing_key = crypto::hmac_sha256(service_key, "aws4_request");
  for (auto* s : {&secret, &date_key, &region_key, &service_key}) util::wipe(*s);
  return signing_key;
}

Signature sign_hmac(const SigningInput& in, std::string_view service,
                    std::string_view access_key_id, std::string_view secret_access_key) {
  Signature sig;
  std::tie(sig.canonical_request, sig.signed_headers) = canonical_request(in);
  const std::string scope = hmac_credential_scope(in.amz_date, in.region, service);
  sig.string_to_sign = fmt::format("{}\n{}\n{}\n{}", kHmacAlgorithm, in.amz_date, scope,
                                   crypto::sha256_hex(sig.canonical_request));
  std::string key = hmac_signing_key(secret_access_key, in.amz_date, in.region, service);
  sig.signature_hex = crypto::hex(crypto::hmac_sha256(key, sig.string_to_sign));
  util::wipe(key);
  sig.authorization =
      fmt::format("{} Credential={}/{}, SignedHeaders={}, Signature={}", kHmacAlgorithm,
                  access_key_id, scope, sig.signed_headers, sig.signature_hex);
  return sig;
}

}  // namespace awh::aws
