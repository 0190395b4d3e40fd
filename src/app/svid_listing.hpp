#pragma once
// The read-only diagnostics `x509-svids` and `jwt-svids`: what the Workload API offers, and which
// SVID the selection flags (--hint, --spiffe-id) would pick. Pure: the SVIDs and the time come
// in, text or JSON goes out.
//
// Only public data is shown: certificates' serials, validity, key algorithm and size; JWT-SVIDs'
// header (alg, kid) and claims (sub, aud, exp, iat). Never a private key, a token, any part of a
// token's encoding or its signature.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "spiffe/svid.hpp"

namespace awh::app {

struct X509SvidInfo {
  std::string spiffe_id;
  std::string hint;
  std::string serial_decimal;  // the leaf's serial (what SigV4-X509 sends)
  std::string serial_hex;      // uppercase, two digits a byte
  std::optional<std::chrono::system_clock::time_point> not_before, not_after;
  std::string key_algorithm;  // "EC", "RSA": the leaf certificate's public key
  int key_bits = 0;
  std::string key_curve;         // "P-256" for EC keys
  std::size_t chain_length = 0;  // certificates in the SVID: the leaf and its intermediates
  std::string problem;           // why the helper would refuse this SVID; "" if usable
};

struct JwtSvidInfo {
  std::string spiffe_id;
  std::string hint;
  std::string subject;
  std::vector<std::string> audience;
  std::optional<std::chrono::system_clock::time_point> expiry, issued_at;
  std::string algorithm;  // header alg
  std::string key_id;     // header kid
  std::string problem;    // why the helper would refuse this JWT-SVID; "" if usable
};

// The SVIDs in the Workload API's order and the selection's outcome.
template <class Info>
struct SvidListing {
  std::vector<Info> svids;
  std::optional<std::size_t> selected;  // the index the flags pick
  std::string selection;                // how it was picked, or why nothing matches
};

SvidListing<X509SvidInfo> list_x509_svids(const std::vector<spiffe::RawX509Svid>& svids,
                                          const spiffe::Selector& selector);
// `audience` and `now` are what the JWT-SVID is checked against (spiffe/jwt.hpp).
SvidListing<JwtSvidInfo> list_jwt_svids(const std::vector<spiffe::RawJwtSvid>& svids,
                                        const spiffe::Selector& selector,
                                        const std::string& audience,
                                        std::chrono::system_clock::time_point now);

// Text for people (one block per SVID, the selected one marked) or one JSON object
// (`{"svids":[...],"selected":N|null,"selection":"..."}`), each ending with a newline.
std::string format_text(const SvidListing<X509SvidInfo>& listing);
std::string format_text(const SvidListing<JwtSvidInfo>& listing);
std::string format_json(const SvidListing<X509SvidInfo>& listing);
std::string format_json(const SvidListing<JwtSvidInfo>& listing);

}  // namespace awh::app
