#pragma once
// SVIDs as the Workload API delivers them (SPIFFE Workload API §5.2, §5.3; X509-SVID §2, §5):
// X.509-SVIDs as DER certificates leaf first, an unencrypted PKCS#8 DER key and a DER bundle;
// JWT-SVIDs as compact JWS tokens. Parsing, validation and selection; pure, no I/O.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "crypto/openssl.hpp"
#include "util/error.hpp"
#include "util/secret.hpp"

namespace awh::spiffe {

// One X509SVID message, as received.
struct RawX509Svid {
  std::string spiffe_id;
  std::string cert_chain_der;
  util::SecretString key_der;  // secret: never log; wiped when destroyed
  std::string bundle_der;
  std::string hint;
};

// One JWTSVID message, as received.
struct RawJwtSvid {
  std::string spiffe_id;
  util::SecretString token;  // secret (a bearer credential): never log; wiped when destroyed
  std::string hint;
};

struct X509Svid {
  std::string spiffe_id;
  std::string hint;
  std::string leaf_der;
  std::vector<std::string> intermediates_der;
  crypto::PkeyPtr key;
  crypto::KeyType key_type = crypto::KeyType::rsa;
  std::string serial_decimal;
  std::chrono::system_clock::time_point not_after;
  std::chrono::system_clock::time_point not_before{};
  bool is_ca = false;  // basicConstraints CA:TRUE: never an SVID (X509-SVID §4.1)
};

struct Selector {
  std::optional<std::string> hint;
  std::optional<std::string> spiffe_id;
  bool empty() const { return !hint && !spiffe_id; }
};

// Checks the SPIFFE ID syntax (spiffe://<trust-domain>/<path>), the chain, that the key is
// supported and matches the leaf, and that the leaf carries the SPIFFE ID as its URI SAN.
Result<X509Svid> parse_x509_svid(const RawX509Svid& raw);

// Index of the first SVID matching every given selector (the first SVID when none is given).
// No match: errc::not_found naming the available SPIFFE IDs and hints.
Result<std::size_t> select_svid(const std::vector<RawX509Svid>& svids, const Selector& selector);
// The same rules and messages for JWT-SVIDs.
Result<std::size_t> select_jwt_svid(const std::vector<RawJwtSvid>& svids, const Selector& selector);

bool valid_spiffe_id(std::string_view id);

// Before signing with it: the leaf must be valid at `now` and not a CA certificate (X509-SVID
// §4.1: leaf SVIDs set CA to false). errc::invalid_input naming what is wrong.
Result<void> check_signing_leaf(const X509Svid& svid, std::chrono::system_clock::time_point now);

}  // namespace awh::spiffe
