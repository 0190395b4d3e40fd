#pragma once
// The Workload API's messages in protobuf's wire format, encoded and decoded by hand: the helper
// sends two small requests and reads two responses, so it needs no protobuf runtime (and links
// none). The messages are those of the SPIFFE Workload API's workload.proto (proto/ keeps a copy
// for the test peers, which use protoc's generated code and so check these bytes independently).
// Pure functions: no gRPC, no I/O.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spiffe/svid.hpp"
#include "util/error.hpp"

namespace awh::spiffe::wire {

// X509SVIDRequest {}: no fields, so zero bytes.
inline std::string x509_svid_request() { return {}; }

// JWTSVIDRequest { repeated string audience = 1; string spiffe_id = 2; }
std::string jwt_svid_request(std::string_view audience,
                             const std::optional<std::string>& spiffe_id);

// X509SVIDResponse { repeated X509SVID svids = 1; ... } with
// X509SVID { string spiffe_id = 1; bytes x509_svid = 2; bytes x509_svid_key = 3;
//            bytes bundle = 4; string hint = 5; }.
// The CRLs (2) and federated bundles (3), and any field a newer agent adds, are skipped.
Result<std::vector<RawX509Svid>> x509_svid_response(std::string_view message);

// JWTSVIDResponse { repeated JWTSVID svids = 1; } with
// JWTSVID { string spiffe_id = 1; string svid = 2; string hint = 3; }.
Result<std::vector<RawJwtSvid>> jwt_svid_response(std::string_view message);

}  // namespace awh::spiffe::wire
