#include "test_pki.hpp"

#include <openssl/pem.h>
#include <openssl/rand.h>

#include <array>
#include <utility>
#include <vector>

#include "ossl_ptr.hpp"

namespace awh::testpeers {
namespace {

constexpr long kBackdateSeconds = 60;  // tolerate small clock differences between peers
constexpr long kCaLifetimeSeconds = 30L * 24 * 3600;

EvpPkeyPtr generate_key(KeyKind kind) {
  EVP_PKEY* key = nullptr;
  switch (kind) {
    case KeyKind::rsa2048:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
      break;
    case KeyKind::p256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyKind::p384:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
  }
  return EvpPkeyPtr(checked(key, "EVP_PKEY_Q_keygen"));
}

// A positive, non-zero 128-bit serial (RFC 5280 §4.1.2.2 allows up to 20 octets; the top bit
// is cleared so the DER INTEGER needs no sign padding).
BignumPtr random_serial() {
  std::array<unsigned char, 16> bytes{};
  do {
    checked_int(RAND_bytes(bytes.data(), static_cast<int>(bytes.size())), "RAND_bytes");
    bytes[0] &= 0x7f;
  } while (bytes == std::array<unsigned char, 16>{});
  return BignumPtr(
      checked(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr), "BN_bin2bn"));
}

X509NamePtr make_name(const std::vector<std::pair<const char*, std::string>>& entries) {
  X509NamePtr name(checked(X509_NAME_new(), "X509_NAME_new"));
  for (const auto& [field, value] : entries) {
    checked_int(X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_ASC,
                                           reinterpret_cast<const unsigned char*>(value.data()),
                                           static_cast<int>(value.size()), -1, 0),
                "X509_NAME_add_entry_by_txt");
  }
  return name;
}

// Adds an extension from OpenSSL's config syntax ("critical,CA:FALSE"). The context names the
// issuer so that authorityKeyIdentifier can copy the issuer's subjectKeyIdentifier.
void add_ext(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509ExtensionPtr ext(
      checked(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value), "X509V3_EXT_nconf_nid"));
  checked_int(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

// The URI SAN is built directly rather than through the config syntax, so that a SPIFFE ID
// with a comma or other config metacharacters is encoded verbatim.
void add_uri_san(X509* cert, const std::string& uri) {
  Asn1StringPtr ia5(checked(ASN1_IA5STRING_new(), "ASN1_IA5STRING_new"));
  checked_int(ASN1_STRING_set(ia5.get(), uri.data(), static_cast<int>(uri.size())),
              "ASN1_STRING_set");
  GeneralNamePtr gn(checked(GENERAL_NAME_new(), "GENERAL_NAME_new"));
  GENERAL_NAME_set0_value(gn.get(), GEN_URI, ia5.release());  // gn owns the string now
  GeneralNamesPtr names(checked(GENERAL_NAMES_new(), "GENERAL_NAMES_new"));
  checked_int(sk_GENERAL_NAME_push(names.get(), gn.get()), "sk_GENERAL_NAME_push");
  gn.release();  // names owns the entry now
  // Not critical: the subject is non-empty (X509-SVID §4.1 only requires the SAN).
  checked_int(X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT),
              "X509_add1_ext_i2d(subjectAltName)");
}

std::string cert_to_der(X509* cert) {
  const int len = checked_int(i2d_X509(cert, nullptr), "i2d_X509");
  std::string out(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  checked_int(i2d_X509(cert, &p), "i2d_X509");
  return out;
}

std::string key_to_pkcs8_der(EVP_PKEY* key) {
  Pkcs8InfoPtr p8(checked(EVP_PKEY2PKCS8(key), "EVP_PKEY2PKCS8"));
  const int len =
      checked_int(i2d_PKCS8_PRIV_KEY_INFO(p8.get(), nullptr), "i2d_PKCS8_PRIV_KEY_INFO");
  std::string out(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  checked_int(i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &p), "i2d_PKCS8_PRIV_KEY_INFO");
  return out;
}

std::string serial_to_decimal(const BIGNUM* serial) {
  OsslStringPtr dec(checked(BN_bn2dec(serial), "BN_bn2dec"));
  return std::string(dec.get());
}

struct CertSpec {
  const X509_NAME* subject;
  EVP_PKEY* subject_key;  // public half goes into the certificate
  X509* issuer_cert;      // null: self-signed
  EVP_PKEY* issuer_key;
  long lifetime_seconds;
  bool ca;
  std::string san_uri;
};

struct Built {
  X509Ptr cert;
  BignumPtr serial;
};

Built build_cert(const CertSpec& spec) {
  X509Ptr cert(checked(X509_new(), "X509_new"));
  checked_int(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");

  BignumPtr serial = random_serial();
  Asn1IntegerPtr serial_asn1(
      checked(BN_to_ASN1_INTEGER(serial.get(), nullptr), "BN_to_ASN1_INTEGER"));
  checked_int(X509_set_serialNumber(cert.get(), serial_asn1.get()), "X509_set_serialNumber");

  checked(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds), "X509_gmtime_adj");
  checked(X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.lifetime_seconds),
          "X509_gmtime_adj");

  checked_int(X509_set_subject_name(cert.get(), spec.subject), "X509_set_subject_name");
  const X509_NAME* issuer_name =
      spec.issuer_cert != nullptr ? X509_get_subject_name(spec.issuer_cert) : spec.subject;
  checked_int(X509_set_issuer_name(cert.get(), issuer_name), "X509_set_issuer_name");
  checked_int(X509_set_pubkey(cert.get(), spec.subject_key), "X509_set_pubkey");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, spec.issuer_cert != nullptr ? spec.issuer_cert : cert.get(), cert.get(),
                 nullptr, nullptr, 0);
  if (spec.ca) {
    add_ext(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature");
    add_ext(cert.get(), &ctx, NID_ext_key_usage, "clientAuth,serverAuth");
  }
  add_ext(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  if (spec.issuer_cert != nullptr) {
    add_ext(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  }
  add_uri_san(cert.get(), spec.san_uri);

  checked_int(X509_sign(cert.get(), spec.issuer_key, EVP_sha256()), "X509_sign");
  return Built{std::move(cert), std::move(serial)};
}

}  // namespace

struct TestPki::Impl {
  std::string trust_domain;
  EvpPkeyPtr root_key;
  X509Ptr root_cert;
  EvpPkeyPtr intermediate_key;
  X509Ptr intermediate_cert;
};

TestPki::TestPki(std::string trust_domain) : impl_(std::make_unique<Impl>()) {
  impl_->trust_domain = std::move(trust_domain);
  const std::string td_uri = "spiffe://" + impl_->trust_domain;

  impl_->root_key = generate_key(KeyKind::p256);
  const X509NamePtr root_name = make_name({{"O", "SPIFFE"}, {"CN", "Test Root CA"}});
  impl_->root_cert = build_cert(CertSpec{root_name.get(), impl_->root_key.get(), nullptr,
                                         impl_->root_key.get(), kCaLifetimeSeconds, true, td_uri})
                         .cert;

  impl_->intermediate_key = generate_key(KeyKind::p256);
  const X509NamePtr int_name = make_name({{"O", "SPIFFE"}, {"CN", "Test Intermediate CA"}});
  impl_->intermediate_cert =
      build_cert(CertSpec{int_name.get(), impl_->intermediate_key.get(), impl_->root_cert.get(),
                          impl_->root_key.get(), kCaLifetimeSeconds, true, td_uri})
          .cert;
}

TestPki::~TestPki() = default;
TestPki::TestPki(TestPki&&) noexcept = default;
TestPki& TestPki::operator=(TestPki&&) noexcept = default;

IssuedSvid TestPki::issue(const std::string& spiffe_id, KeyKind kind, bool via_intermediate,
                          std::chrono::seconds lifetime) {
  EvpPkeyPtr key = generate_key(kind);
  const X509NamePtr subject = make_name({{"O", "SPIFFE"}});
  X509* issuer = via_intermediate ? impl_->intermediate_cert.get() : impl_->root_cert.get();
  EVP_PKEY* issuer_key = via_intermediate ? impl_->intermediate_key.get() : impl_->root_key.get();
  Built leaf = build_cert(CertSpec{subject.get(), key.get(), issuer, issuer_key,
                                   static_cast<long>(lifetime.count()), false, spiffe_id});

  IssuedSvid out;
  out.spiffe_id = spiffe_id;
  out.leaf_der = cert_to_der(leaf.cert.get());
  out.chain_der = out.leaf_der;
  if (via_intermediate) out.chain_der += cert_to_der(impl_->intermediate_cert.get());
  out.key_pkcs8_der = key_to_pkcs8_der(key.get());
  out.serial_decimal = serial_to_decimal(leaf.serial.get());
  return out;
}

const std::string& TestPki::trust_domain() const { return impl_->trust_domain; }

std::string TestPki::root_der() const { return cert_to_der(impl_->root_cert.get()); }

std::string TestPki::root_pem() const { return der_to_pem_cert(root_der()); }

std::string TestPki::intermediate_der() const {
  return cert_to_der(impl_->intermediate_cert.get());
}

std::string der_to_pem_cert(std::string_view der) {
  if (der.empty()) throw std::runtime_error("der_to_pem_cert: empty input");
  BioPtr bio(checked(BIO_new(BIO_s_mem()), "BIO_new"));
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const auto* const end = p + der.size();
  while (p < end) {
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(end - p)));
    if (!cert) throw_ossl("d2i_X509 (der_to_pem_cert)");
    checked_int(PEM_write_bio_X509(bio.get(), cert.get()), "PEM_write_bio_X509");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || data == nullptr) throw_ossl("BIO_get_mem_data");
  return std::string(data, static_cast<size_t>(len));
}

std::string_view to_string(KeyKind kind) noexcept {
  switch (kind) {
    case KeyKind::rsa2048:
      return "rsa2048";
    case KeyKind::p256:
      return "p256";
    case KeyKind::p384:
      return "p384";
  }
  return "unknown";
}

}  // namespace awh::testpeers
