#pragma once
// OpenSSL RAII for the test peers: every OpenSSL object lives in a unique_ptr with a per-type
// deleter, and every allocating call goes through `checked()`, which throws std::runtime_error
// naming the call and OpenSSL's error queue. Test code only: production code has its own
// crypto/ wrappers that return errors as values.

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace awh::testpeers {

template <auto Free>
struct OsslDeleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};

struct X509StackDeleter {
  void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_pop_free(s, X509_free); }
};

using X509Ptr = std::unique_ptr<X509, OsslDeleter<X509_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, OsslDeleter<X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OsslDeleter<X509_EXTENSION_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OsslDeleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OsslDeleter<X509_STORE_CTX_free>>;
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OsslDeleter<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, OsslDeleter<BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, OsslDeleter<BN_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, OsslDeleter<ASN1_INTEGER_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, OsslDeleter<ASN1_STRING_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, OsslDeleter<GENERAL_NAME_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OsslDeleter<GENERAL_NAMES_free>>;
using Pkcs8InfoPtr = std::unique_ptr<PKCS8_PRIV_KEY_INFO, OsslDeleter<PKCS8_PRIV_KEY_INFO_free>>;

// Memory from OPENSSL_malloc (BN_bn2dec and friends). OPENSSL_free is a macro, hence the lambda.
struct OsslCharDeleter {
  void operator()(char* p) const noexcept { OPENSSL_free(p); }
};
using OsslStringPtr = std::unique_ptr<char, OsslCharDeleter>;

// OpenSSL's error queue as one line (and cleared), for exception messages.
inline std::string ossl_errors() {
  std::string out;
  unsigned long e = 0;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? std::string("no OpenSSL error queued") : out;
}

[[noreturn]] inline void throw_ossl(std::string_view what) {
  throw std::runtime_error(std::string(what) + " failed: " + ossl_errors());
}

// Pointer results: null is failure.
template <class T>
T* checked(T* p, std::string_view what) {
  if (p == nullptr) throw_ossl(what);
  return p;
}

// Integer results: OpenSSL's "1 (or >0) on success" convention.
inline int checked_int(int r, std::string_view what) {
  if (r <= 0) throw_ossl(what);
  return r;
}

}  // namespace awh::testpeers
