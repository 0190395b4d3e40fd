#include "aws/sigv4x509.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "util/strings.hpp"

namespace awh::aws {
namespace {

using util::ascii_lower;

// SigV4: trim leading/trailing spaces and collapse sequential spaces to one.
std::string trim_value(std::string_view v) {
  std::string out;
  bool pending_space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string uri_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string canonical_query(const KeyValues& decoded_query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(decoded_query.size());
  for (const auto& [k, v] : decoded_query) enc.emplace_back(uri_encode(k), uri_encode(v));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty()) out.push_back('&');
    out += k;
    out.push_back('=');
    out += v;
  }
  return out;
}

std::string_view algorithm_name(crypto::KeyType type) {
  return type == crypto::KeyType::rsa ? "AWS4-X509-RSA-SHA256" : "AWS4-X509-ECDSA-SHA256";
}

std::string credential_scope(std::string_view amz_date, std::string_view region) {
  return fmt::format("{}/{}/rolesanywhere/aws4_request", amz_date.substr(0, 8), region);
}

std::pair<std::string, std::string> canonical_request(const SigningInput& in) {
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(in.headers.size());
  for (const auto& [name, value] : in.headers)
    headers.emplace_back(ascii_lower(name), trim_value(value));
  std::sort(headers.begin(), headers.end());

  std::string canonical_headers;
  std::string signed_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += fmt::format("{}:{}\n", name, value);
    if (!signed_headers.empty()) signed_headers.push_back(';');
    signed_headers += name;
  }
  std::string request =
      fmt::format("{}\n{}\n{}\n{}\n{}\n{}", in.method, in.path, canonical_query(in.query),
                  canonical_headers, signed_headers, crypto::sha256_hex(in.body));
  return {std::move(request), std::move(signed_headers)};
}

std::string string_to_sign(crypto::KeyType type, std::string_view amz_date, std::string_view region,
                           std::string_view canonical_request) {
  return fmt::format("{}\n{}\n{}\n{}", algorithm_name(type), amz_date,
                     credential_scope(amz_date, region), crypto::sha256_hex(canonical_request));
}

Result<Signature> sign(const SigningInput& in, EVP_PKEY* key, std::string_view serial_decimal) {
  auto type = crypto::signing_key_type(key);
  if (!type) return type.error();
  Signature sig;
  std::tie(sig.canonical_request, sig.signed_headers) = canonical_request(in);
  sig.string_to_sign = string_to_sign(*type, in.amz_date, in.region, sig.canonical_request);
  auto raw = crypto::sign_sha256(key, sig.string_to_sign);
  if (!raw) return raw.error();
  sig.signature_hex = crypto::hex(*raw);
  sig.authorization = fmt::format(
      "{} Credential={}/{}, SignedHeaders={}, Signature={}", algorithm_name(*type), serial_decimal,
      credential_scope(in.amz_date, in.region), sig.signed_headers, sig.signature_hex);
  return sig;
}

}  // namespace awh::aws
