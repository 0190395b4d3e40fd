#pragma once
// SigV4-X509, the request signing of IAM Roles Anywhere ("Signing process for IAM Roles
// Anywhere", AWS docs): SigV4's canonical request, signed with the X.509 certificate's private
// key instead of an HMAC chain. Every function here is pure: time, key and request are inputs.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/openssl.hpp"
#include "util/error.hpp"

namespace awh::aws {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// RFC 3986 percent-encoding as SigV4 wants it: everything but A-Za-z0-9-_.~ as %XX, uppercase.
std::string uri_encode(std::string_view s);
// Sorted by key (then value), each key and value uri_encode()d, joined with '&'.
std::string canonical_query(const KeyValues& decoded_query);

struct SigningInput {
  std::string method;  // "POST"
  std::string path;    // "/sessions" (already canonical)
  KeyValues query;     // decoded key/value pairs
  KeyValues headers;   // exactly the headers to sign, any case, in any order
  std::string body;
  std::string amz_date;  // X-Amz-Date, "YYYYMMDDTHHMMSSZ"
  std::string region;
};

struct Signature {
  std::string canonical_request;
  std::string signed_headers;  // "content-type;host;..."
  std::string string_to_sign;
  std::string signature_hex;
  std::string authorization;  // the Authorization header value
};

std::string_view algorithm_name(crypto::KeyType type);  // AWS4-X509-RSA-SHA256 / -ECDSA-
std::string credential_scope(std::string_view amz_date, std::string_view region);

// The canonical request and its signed-headers list (names lowercased, values trimmed with
// inner runs of spaces collapsed, sorted by name).
std::pair<std::string, std::string> canonical_request(const SigningInput& in);
std::string string_to_sign(crypto::KeyType type, std::string_view amz_date, std::string_view region,
                           std::string_view canonical_request);

// Signs `in` with `key`; `serial_decimal` is the leaf certificate's serial, which Roles
// Anywhere takes as the credential identifier in `Credential=`.
Result<Signature> sign(const SigningInput& in, EVP_PKEY* key, std::string_view serial_decimal);

}  // namespace awh::aws
