// The Workload API's messages as the helper decodes them (spiffe/workload_wire.hpp). Any input
// either decodes or is refused with a reason; nothing is read past the input (ASan). When an
// X509SVIDResponse or JWTSVIDResponse decodes, encoding what was read with the plain rules
// (one length-delimited field per value, written here, not by the code under test) and decoding
// that again gives the same SVIDs: no field was lost, mixed up or read from the wrong place.

#include <cstdint>
#include <string>

#include "fuzz.hpp"
#include "spiffe/workload_wire.hpp"

namespace {

void varint(std::string& out, std::uint64_t v) {
  for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7f) | 0x80));
  out.push_back(static_cast<char>(v));
}

void field(std::string& out, unsigned number, std::string_view value) {
  varint(out, number << 3 | 2);
  varint(out, value.size());
  out.append(value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  namespace wire = awh::spiffe::wire;

  const auto x509 = wire::x509_svid_response(input);
  if (!x509) {
    FUZZ_CHECK(x509.error().message.starts_with("a malformed X509SVID"));
  } else {
    std::string again;
    for (const auto& s : *x509) {
      std::string svid;
      field(svid, 1, s.spiffe_id);
      field(svid, 2, s.cert_chain_der);
      field(svid, 3, s.key_der.str());
      field(svid, 4, s.bundle_der);
      field(svid, 5, s.hint);
      field(again, 1, svid);
    }
    const auto round = wire::x509_svid_response(again);
    FUZZ_CHECK(round && round->size() == x509->size());
    for (std::size_t i = 0; i < x509->size(); ++i) {
      const auto &a = (*x509)[i], &b = (*round)[i];
      FUZZ_CHECK(a.spiffe_id == b.spiffe_id && a.cert_chain_der == b.cert_chain_der &&
                 a.key_der.str() == b.key_der.str() && a.bundle_der == b.bundle_der &&
                 a.hint == b.hint);
    }
  }

  const auto jwt = wire::jwt_svid_response(input);
  if (!jwt) {
    FUZZ_CHECK(jwt.error().message.starts_with("a malformed JWTSVID"));
  } else {
    std::string again;
    for (const auto& s : *jwt) {
      std::string svid;
      field(svid, 1, s.spiffe_id);
      field(svid, 2, s.token.str());
      field(svid, 3, s.hint);
      field(again, 1, svid);
    }
    const auto round = wire::jwt_svid_response(again);
    FUZZ_CHECK(round && round->size() == jwt->size());
    for (std::size_t i = 0; i < jwt->size(); ++i) {
      const auto &a = (*jwt)[i], &b = (*round)[i];
      FUZZ_CHECK(a.spiffe_id == b.spiffe_id && a.token.str() == b.token.str() && a.hint == b.hint);
    }
  }
  // Both messages are read with the same framing: one decodes exactly when the other does.
  FUZZ_CHECK(static_cast<bool>(x509) == static_cast<bool>(jwt));
  return 0;
}
