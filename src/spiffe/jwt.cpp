#include "spiffe/jwt.hpp"

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

#include "spiffe/svid.hpp"
#include "util/text.hpp"
#include "util/time.hpp"

namespace awh::spiffe {
namespace {

Error invalid(std::string message) { return make_error(errc::invalid_input, std::move(message)); }

// RFC 7515 §2 and RFC 4648 §5: base64url, the padding omitted. Padding, characters outside the
// alphabet (whitespace included) and an impossible length (4n+1) are refused.
std::optional<std::string> base64url_decode(std::string_view in) {
  static constexpr auto kValues = [] {
    std::array<std::int8_t, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 26; ++i) {
      t['A' + i] = static_cast<std::int8_t>(i);
      t['a' + i] = static_cast<std::int8_t>(26 + i);
    }
    for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<std::int8_t>(52 + i);
    t['-'] = 62;
    t['_'] = 63;
    return t;
  }();
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3 + 2);
  std::uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : in) {
    const auto v = kValues[c];
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

// Claim values are the workload's own public data, but they end up in log lines: escape control
// characters and bound the length.
std::string printable(std::string_view s) { return util::escape_text(s, 200); }

// One base64url-encoded JSON object part of the token ("header" or "payload").
Result<boost::json::object> json_part(std::string_view encoded, std::string_view name) {
  const auto decoded = base64url_decode(encoded);
  if (!decoded) return invalid(fmt::format("the JWT-SVID's {} is not base64url", name));
  boost::system::error_code ec;
  auto value = boost::json::parse(*decoded, ec);
  if (ec) return invalid(fmt::format("the JWT-SVID's {} is not JSON", name));
  if (!value.is_object()) {
    return invalid(fmt::format("the JWT-SVID's {} is not a JSON object", name));
  }
  return std::move(value.get_object());
}

// `exp` is a NumericDate (RFC 7519 §2): seconds since the epoch, possibly fractional. Values
// system_clock can't represent are refused rather than wrapped.
Result<std::chrono::system_clock::time_point> expiry_of(const boost::json::value& exp) {
  using namespace std::chrono;
  const double max_seconds =
      static_cast<double>(duration_cast<seconds>(system_clock::duration::max()).count() - 1);
  double value = 0;
  if (exp.is_int64()) {
    value = static_cast<double>(exp.get_int64());
  } else if (exp.is_uint64()) {
    value = static_cast<double>(exp.get_uint64());
  } else if (exp.is_double()) {
    value = exp.get_double();
  } else {
    return invalid("the JWT-SVID's exp claim is not a number");
  }
  if (!std::isfinite(value) || value < 0 || value > max_seconds) {
    return invalid("the JWT-SVID's exp claim is out of range");
  }
  if (exp.is_double()) {
    return system_clock::time_point{duration_cast<system_clock::duration>(duration<double>(value))};
  }
  // Integers exactly (a double would round large values).
  const auto whole = exp.is_int64() ? exp.get_int64() : static_cast<std::int64_t>(exp.get_uint64());
  return system_clock::time_point{duration_cast<system_clock::duration>(seconds(whole))};
}

// JWS compact serialization (RFC 7515 §7.1): header.payload.signature, none of them empty.
// Five parts would be a JWE, which JWT-SVID §3 does not allow.
Result<std::array<std::string_view, 3>> split_jws(std::string_view token) {
  std::array<std::string_view, 3> parts;
  std::size_t count = 0;
  for (std::size_t start = 0;;) {
    const auto dot = token.find('.', start);
    const auto part = token.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (count < parts.size()) parts[count] = part;
    ++count;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (count != 3) {
    return invalid(fmt::format("the JWT-SVID is not a JWT (expected 3 parts, got {})", count));
  }
  constexpr std::array<std::string_view, 3> kNames{"header", "payload", "signature"};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) return invalid(fmt::format("the JWT-SVID's {} is empty", kNames[i]));
  }
  return parts;
}

}  // namespace

Result<JwtClaims> check_jwt_svid(std::string_view token, std::string_view audience,
                                 std::chrono::system_clock::time_point now) {
  AWH_TRY(split, split_jws(token));
  const auto& parts = *split;
  if (!base64url_decode(parts[2])) return invalid("the JWT-SVID's signature is not base64url");

  auto header = json_part(parts[0], "header");
  if (!header) return header.error();
  // JWT-SVID §3: the token must be signed; "none" (RFC 7518 §3.6) is never acceptable.
  const auto* alg = header->if_contains("alg");
  if (alg == nullptr || !alg->is_string()) {
    return invalid("the JWT-SVID's header has no alg (a string)");
  }
  if (alg->get_string() == "none") return invalid("the JWT-SVID is unsigned (alg \"none\")");

  auto payload = json_part(parts[1], "payload");
  if (!payload) return payload.error();
  JwtClaims claims;

  const auto* sub = payload->if_contains("sub");
  if (sub == nullptr) return invalid("the JWT-SVID has no sub claim");
  if (!sub->is_string()) return invalid("the JWT-SVID's sub claim is not a string");
  claims.subject = sub->get_string();
  if (!valid_spiffe_id(claims.subject)) {
    return invalid(fmt::format("the JWT-SVID's subject '{}' is not a valid SPIFFE ID",
                               printable(claims.subject)));
  }

  // RFC 7519 §4.1.3: a single string or an array of strings.
  const auto* aud = payload->if_contains("aud");
  if (aud == nullptr) return invalid("the JWT-SVID has no aud claim");
  if (aud->is_string()) {
    claims.audience.emplace_back(aud->get_string());
  } else if (aud->is_array()) {
    for (const auto& a : aud->get_array()) {
      if (!a.is_string()) {
        return invalid("the JWT-SVID's aud claim is not a string or an array of strings");
      }
      claims.audience.emplace_back(a.get_string());
    }
  } else {
    return invalid("the JWT-SVID's aud claim is not a string or an array of strings");
  }
  bool found = false;
  std::string listed;
  for (const auto& a : claims.audience) {
    found = found || a == audience;
    if (!listed.empty()) listed += ", ";
    listed += a;
  }
  if (!found) {
    return invalid(fmt::format("the JWT-SVID's audience [{}] does not include '{}'",
                               printable(listed), printable(audience)));
  }

  const auto* exp = payload->if_contains("exp");
  if (exp == nullptr) return invalid("the JWT-SVID has no exp claim");
  auto expiry = expiry_of(*exp);
  if (!expiry) return expiry.error();
  claims.expiry = *expiry;
  if (claims.expiry <= now) {
    return invalid(fmt::format("the JWT-SVID expired at {}", util::format_rfc3339(claims.expiry)));
  }
  return claims;
}

Result<JwtPublicParts> read_jwt_public_parts(std::string_view token) {
  AWH_TRY(parts, split_jws(token));
  AWH_TRY(header, json_part((*parts)[0], "header"));
  AWH_TRY(payload, json_part((*parts)[1], "payload"));
  const auto text = [](const boost::json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  const auto time = [](const boost::json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    std::optional<std::chrono::system_clock::time_point> out;
    if (v == nullptr) return out;
    if (auto t = expiry_of(*v)) out = *t;
    return out;
  };
  JwtPublicParts out;
  out.algorithm = text(*header, "alg");
  out.key_id = text(*header, "kid");
  out.subject = text(*payload, "sub");
  if (const auto* aud = payload->if_contains("aud")) {
    if (aud->is_string()) out.audience.emplace_back(aud->get_string());
    if (aud->is_array()) {
      for (const auto& a : aud->get_array()) {
        if (a.is_string()) out.audience.emplace_back(a.get_string());
      }
    }
  }
  out.expiry = time(*payload, "exp");
  out.issued_at = time(*payload, "iat");
  return out;
}

}  // namespace awh::spiffe
