#pragma once
// JWT-SVIDs (SPIFFE JWT-SVID §2, §3): a compact JWS whose `sub` is the SPIFFE ID. We only hand the
// token to STS, which is the relying party and verifies the signature; here we check what we can
// check without keys, so that an expired or wrong-audience token fails fast with a clear message
// instead of an opaque STS error. Pure, no I/O.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace awh::spiffe {

struct JwtClaims {
  std::string subject;                // the SPIFFE ID (`sub`)
  std::vector<std::string> audience;  // `aud`, as a list even when the token has a single string
  std::chrono::system_clock::time_point expiry;  // `exp`
};

// Checks a JWT-SVID before use (JWT-SVID §3): three dot-separated base64url parts without padding;
// a header that is a JSON object whose `alg` is a string other than "none"; a payload that is a
// JSON object with `exp` (a JSON number of seconds since the epoch) after `now`, `aud` (a string
// or an array of strings) containing `audience`, and `sub` a valid SPIFFE ID. The signature is not
// verified: we are not the relying party.
// Errors: errc::invalid_input, saying what is wrong (e.g. "the JWT-SVID expired at
// 2026-11-24T12:00:00Z"). Messages never contain the token or any part of its encoding.
Result<JwtClaims> check_jwt_svid(std::string_view token, std::string_view audience,
                                 std::chrono::system_clock::time_point now);

// The public parts of a JWT-SVID, for diagnostics: what its header and payload say, read
// without judging them (check_jwt_svid() judges). Fields the token lacks, or holds with another
// type, stay empty. Never holds the token, its encoding or its signature.
struct JwtPublicParts {
  std::string algorithm;  // header `alg`
  std::string key_id;     // header `kid`
  std::string subject;    // `sub`
  std::vector<std::string> audience;
  std::optional<std::chrono::system_clock::time_point> expiry;     // `exp`
  std::optional<std::chrono::system_clock::time_point> issued_at;  // `iat`
};
// Errors (errc::invalid_input): not three parts, or a header or payload that is not a
// base64url-encoded JSON object.
Result<JwtPublicParts> read_jwt_public_parts(std::string_view token);

}  // namespace awh::spiffe
