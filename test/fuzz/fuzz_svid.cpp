// X.509-SVIDs as the Workload API delivers them (spiffe/svid.hpp): the SPIFFE ID, the DER chain
// (leaf first), the PKCS#8 DER key and the bundle. When one is accepted: its SPIFFE ID is the
// one given and valid; the chain is exactly the leaf followed by the intermediates (nothing
// dropped, nothing trailing); each certificate is canonical DER; the key is there and the serial
// is decimal. Selection by SPIFFE ID finds it.

#include <openssl/x509.h>

#include <string>
#include <vector>

#include "fuzz.hpp"
#include "spiffe/svid.hpp"

namespace {

bool canonical_der(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (cert == nullptr) return false;
  unsigned char* out = nullptr;
  const int n = i2d_X509(cert, &out);
  const bool same = n >= 0 && std::string(reinterpret_cast<char*>(out), n) == der;
  OPENSSL_free(out);
  X509_free(cert);
  return same;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const auto f = awh::fuzz::fields(data, size, 5);
  awh::spiffe::RawX509Svid raw;
  raw.spiffe_id = f[0];
  raw.cert_chain_der = f[1];
  raw.key_der = std::string(f[2]);
  raw.bundle_der = f[3];
  raw.hint = f[4];
  const auto svid = awh::spiffe::parse_x509_svid(raw);
  if (!svid) {
    FUZZ_CHECK(!svid.error().message.empty());
    return 0;
  }
  FUZZ_CHECK(svid->spiffe_id == raw.spiffe_id && awh::spiffe::valid_spiffe_id(svid->spiffe_id));
  std::string chain = svid->leaf_der;
  for (const auto& der : svid->intermediates_der) chain += der;
  FUZZ_CHECK(chain == raw.cert_chain_der);
  FUZZ_CHECK(canonical_der(svid->leaf_der));
  for (const auto& der : svid->intermediates_der) FUZZ_CHECK(canonical_der(der));
  FUZZ_CHECK(svid->key != nullptr);
  FUZZ_CHECK(!svid->serial_decimal.empty() &&
             svid->serial_decimal.find_first_not_of("0123456789") == std::string::npos);

  awh::spiffe::RawX509Svid other;
  other.spiffe_id = "spiffe://other.example/x";
  const std::vector<awh::spiffe::RawX509Svid> both{other, raw};
  awh::spiffe::Selector by_id;
  by_id.spiffe_id = raw.spiffe_id;
  const auto index = awh::spiffe::select_svid(both, by_id);
  FUZZ_CHECK(index && *index == (raw.spiffe_id == other.spiffe_id ? 0u : 1u));
  return 0;
}
