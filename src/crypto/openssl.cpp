#include "crypto/openssl.hpp"

#include <dirent.h>
#include <fmt/format.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <memory>

namespace awh::crypto {
namespace {

// OPENSSL_free is a macro (it passes the file and line); this gives it an address.
void free_string(char* p) noexcept { OPENSSL_free(p); }

Error crypto_error(std::string what) {
  const std::string detail = last_openssl_error();
  return make_error(errc::crypto, detail.empty() ? what : fmt::format("{}: {}", what, detail));
}

}  // namespace

std::string last_openssl_error() {
  std::string result;
  unsigned long e = 0;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    result = buf;  // keep the last (most specific) one
  }
  return result;
}

namespace {

// True if one of the ':'-separated directories holds an entry named like "5ad8a5d6.0": the
// names X509_LOOKUP_hash_dir() looks up (OpenSSL, crypto/x509/by_dir.c).
bool has_hashed_entry(std::string_view dirs) {
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    dirs = colon == std::string_view::npos ? std::string_view{} : dirs.substr(colon + 1);
    std::unique_ptr<DIR, int (*)(DIR*)> listing(opendir(dir.c_str()), closedir);
    while (listing != nullptr) {
      const dirent* entry = readdir(listing.get());
      if (entry == nullptr) break;
      const std::string_view name(entry->d_name);
      if (name.size() >= 10 && name[8] == '.' &&
          std::all_of(name.begin(), name.begin() + 8,
                      [](unsigned char c) { return std::isxdigit(c) != 0; })) {
        return true;
      }
    }
  }
  return false;
}

const char* env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : fallback;
}

}  // namespace

Result<void> use_system_trust_store(X509_STORE* store) {
  // The same environment variables and defaults as X509_STORE_set_default_paths
  // (crypto/x509/x509_d2.c): SSL_CERT_DIR and SSL_CERT_FILE override the built-in paths.
  const char* dirs = env_or(X509_get_default_cert_dir_env(), X509_get_default_cert_dir());
  const char* file_env = std::getenv(X509_get_default_cert_file_env());
  X509_LOOKUP* by_dir = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir());
  if (by_dir == nullptr || X509_LOOKUP_add_dir(by_dir, dirs, X509_FILETYPE_PEM) != 1) {
    return crypto_error("cannot use the system trust store's directory");
  }
  if (file_env != nullptr || !has_hashed_entry(dirs)) {
    const char* file = file_env != nullptr ? file_env : X509_get_default_cert_file();
    X509_LOOKUP* by_file = X509_STORE_add_lookup(store, X509_LOOKUP_file());
    if (by_file == nullptr) return crypto_error("cannot use the system trust store's file");
    // Like X509_STORE_set_default_paths, a missing file is not an error: the directory (or
    // nothing) is then the trust store, and verification fails for every peer.
    X509_LOOKUP_load_file(by_file, file, X509_FILETYPE_PEM);
  }
  ERR_clear_error();
  return {};
}

std::string sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_Digest with SHA-256 cannot fail on valid inputs short of memory exhaustion.
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    throw std::bad_alloc();
  }
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string sha256_hex(std::string_view data) { return hex(sha256(data)); }

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // Like EVP_Digest above: HMAC with SHA-256 fails only when memory runs out.
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len) == nullptr) {
    throw std::bad_alloc();
  }
  std::string out(reinterpret_cast<const char*>(md), len);
  OPENSSL_cleanse(md, sizeof md);
  return out;
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<std::vector<X509Ptr>> parse_der_chain(std::string_view der) {
  std::vector<X509Ptr> certs;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const auto* end = p + der.size();
  while (p < end) {
    const auto* start = p;
    X509Ptr cert(d2i_X509(nullptr, &p, end - p));
    if (!cert)
      return crypto_error(fmt::format("certificate {} is not valid DER", certs.size() + 1));
    // X.509 certificates are DER (RFC 5280 section 4.1), and the SPIFFE X509-SVID standard
    // carries them as ASN.1 DER. OpenSSL also takes BER forms (long lengths, set padding bits
    // of a BIT STRING) and writes them back as DER, which would change the bytes we forward
    // in the signed request. Like Go's parser (go-spiffe), refuse them.
    const std::string_view given(reinterpret_cast<const char*>(start),
                                 static_cast<std::size_t>(p - start));
    if (cert_der(cert.get()) != given) {
      return make_error(errc::invalid_input,
                        fmt::format("certificate {} is not in canonical DER form (it is BER, or "
                                    "has stray bits that DER forbids)",
                                    certs.size() + 1));
    }
    certs.push_back(std::move(cert));
  }
  if (certs.empty()) return make_error(errc::invalid_input, "no certificate in the chain");
  return certs;
}

Result<std::vector<X509Ptr>> parse_pem_certs(std::string_view pem) {
  Ptr<BIO, BIO_free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return crypto_error("BIO_new_mem_buf");
  std::vector<X509Ptr> certs;
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    certs.push_back(std::move(cert));
  }
  ERR_clear_error();  // the loop ends on the expected "no start line" at end of input
  if (certs.empty()) return make_error(errc::invalid_input, "no PEM certificate found");
  return certs;
}

Result<PkeyPtr> parse_pkcs8_der(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  PkeyPtr key(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size())));
  if (!key) return crypto_error("private key is not valid PKCS#8 DER");
  return key;
}

std::string cert_der(X509* cert) {
  unsigned char* buf = nullptr;
  const int len = i2d_X509(cert, &buf);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(len));
  OPENSSL_free(buf);
  return out;
}

std::string serial_decimal(const X509* cert) {
  Ptr<BIGNUM, BN_free> bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) return {};
  Ptr<char, free_string> dec(BN_bn2dec(bn.get()));
  return dec ? std::string(dec.get()) : std::string();
}

std::string serial_hex(const X509* cert) {
  Ptr<BIGNUM, BN_free> bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) return {};
  BN_set_negative(bn.get(), 0);
  Ptr<char, free_string> hex(BN_bn2hex(bn.get()));
  return hex ? std::string(hex.get()) : std::string();
}

namespace {
std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}
}  // namespace

std::chrono::system_clock::time_point not_before(const X509* cert) {
  return to_time_point(X509_get0_notBefore(cert));
}

std::chrono::system_clock::time_point not_after(const X509* cert) {
  return to_time_point(X509_get0_notAfter(cert));
}

KeyDescription describe_key(const EVP_PKEY* key) {
  KeyDescription out;
  const char* name = EVP_PKEY_get0_type_name(key);
  out.algorithm = name ? name : "unknown";
  out.bits = EVP_PKEY_get_bits(key);
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) == 1) {
      const int nid = OBJ_sn2nid(group);
      const char* nist = nid == NID_undef ? nullptr : EC_curve_nid2nist(nid);
      out.curve = nist ? nist : std::string(group, len);
    }
  }
  return out;
}

bool is_ca(X509* cert) { return (X509_get_extension_flags(cert) & EXFLAG_CA) != 0; }

std::vector<std::string> uri_sans(const X509* cert) {
  std::vector<std::string> out;
  Ptr<GENERAL_NAMES, GENERAL_NAMES_free> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                     static_cast<std::size_t>(ASN1_STRING_length(uri)));
  }
  return out;
}

bool key_matches_cert(X509* cert, EVP_PKEY* key) {
  const bool ok = X509_check_private_key(cert, key) == 1;
  ERR_clear_error();
  return ok;
}

Result<KeyType> signing_key_type(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) {
    if (EVP_PKEY_get_bits(key) < 2048) {
      return make_error(errc::invalid_input,
                        fmt::format("RSA key of {} bits is too small", EVP_PKEY_get_bits(key)));
    }
    return KeyType::rsa;
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    char curve[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof curve, &len) != 1) {
      return crypto_error("cannot read the EC key's curve");
    }
    const std::string_view name(curve, len);
    if (name == "prime256v1" || name == "P-256" || name == "secp384r1" || name == "P-384") {
      return KeyType::ec;
    }
    return make_error(errc::invalid_input,
                      fmt::format("EC curve {} is not supported (use P-256 or P-384)", name));
  }
  return make_error(
      errc::invalid_input,
      fmt::format("key type {} is not supported (use RSA or EC)",
                  EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "unknown"));
}

Result<std::string> sign_sha256(EVP_PKEY* key, std::string_view message) {
  Ptr<EVP_MD_CTX, EVP_MD_CTX_free> ctx(EVP_MD_CTX_new());
  if (!ctx) return crypto_error("EVP_MD_CTX_new");
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) != 1) {
    return crypto_error("EVP_DigestSignInit");
  }
  if (EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return crypto_error("EVP_PKEY_CTX_set_rsa_padding");
  }
  std::size_t len = 0;
  const auto* msg = reinterpret_cast<const unsigned char*>(message.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, msg, message.size()) != 1) {
    return crypto_error("EVP_DigestSign");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, msg,
                     message.size()) != 1) {
    return crypto_error("EVP_DigestSign");
  }
  sig.resize(len);
  return sig;
}

}  // namespace awh::crypto
