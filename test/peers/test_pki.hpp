#pragma once
// A throw-away SPIFFE PKI generated at run time (no private keys are committed): an EC P-256
// root CA, an intermediate CA signed by it, and X.509-SVID leaves issued on demand.
//
// Leaves follow the SPIFFE X509-SVID standard: exactly one URI SAN (the SPIFFE ID),
// CA:FALSE, keyUsage digitalSignature, and a positive random serial. Everything is returned as
// DER, the Workload API's encoding (SPIFFE_Workload_API.md: "ASN.1 DER", never PEM).
//
// Errors throw std::runtime_error (test code). A TestPki is not thread-safe: call issue() from
// one thread at a time. Its outputs are plain strings and may be used anywhere.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace awh::testpeers {

enum class KeyKind { rsa2048, p256, p384 };

struct IssuedSvid {
  std::string spiffe_id;
  std::string chain_der;      // leaf DER followed by the intermediate DER if any, concatenated
  std::string key_pkcs8_der;  // unencrypted PKCS#8 DER of the leaf key
  std::string leaf_der;
  std::string serial_decimal;  // leaf serial number in decimal (the SigV4-X509 credential id)
};

class TestPki {
 public:
  // Creates the root CA (CA:TRUE, keyCertSign) and the intermediate CA, both EC P-256 and
  // valid from now-60s for 30 days, with subject O=SPIFFE and the URI SAN spiffe://<trust_domain>.
  explicit TestPki(std::string trust_domain = "example.org");
  ~TestPki();
  TestPki(TestPki&&) noexcept;
  TestPki& operator=(TestPki&&) noexcept;
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  // Issues a leaf for `spiffe_id` with a fresh key of `kind`, signed (SHA-256) by the
  // intermediate when `via_intermediate`, else by the root. Valid from now-60s to now+lifetime;
  // a negative lifetime gives an already-expired certificate.
  IssuedSvid issue(const std::string& spiffe_id, KeyKind kind, bool via_intermediate,
                   std::chrono::seconds lifetime = std::chrono::hours(1));

  const std::string& trust_domain() const;
  std::string root_der() const;  // the trust bundle (DER)
  std::string root_pem() const;  // the root as PEM, for a verifier's trust anchor
  std::string intermediate_der() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// PEM ("-----BEGIN CERTIFICATE-----") of one DER certificate, or of each certificate in a
// concatenation of DER certificates (a chain or bundle), in order. Throws on malformed DER.
std::string der_to_pem_cert(std::string_view der);

// "rsa2048", "p256", "p384".
std::string_view to_string(KeyKind kind) noexcept;

}  // namespace awh::testpeers
