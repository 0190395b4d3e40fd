#pragma once
// OpenSSL 3 RAII handles and the few primitives the helper needs: DER parsing of certificate
// chains and PKCS#8 keys (the Workload API's encodings, SPIFFE X509-SVID §5), SHA-256,
// base64/hex, and SHA-256 signatures for SigV4-X509. Pure functions; thread-compatible.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace awh::crypto {

// The one deleter for OpenSSL objects: `Free` is the type's own free function.
template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};
// Owns an OpenSSL object: Ptr<X509, X509_free>.
template <class T, auto Free>
using Ptr = std::unique_ptr<T, Deleter<Free>>;

using X509Ptr = Ptr<X509, X509_free>;
using PkeyPtr = Ptr<EVP_PKEY, EVP_PKEY_free>;

enum class KeyType { rsa, ec };

// The most recent OpenSSL error queue entry as text (and clears the queue); "" if none.
std::string last_openssl_error();

std::string sha256(std::string_view data);      // raw 32 bytes
std::string sha256_hex(std::string_view data);  // lowercase hex
// HMAC-SHA256 (RFC 2104), raw 32 bytes: SigV4's signing-key chain.
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string hex(std::string_view bytes);     // lowercase hex
std::string base64(std::string_view bytes);  // standard alphabet, padded, one line

// Concatenated DER certificates (leaf first) -> certificates; empty input is an error, and so
// is a certificate whose encoding is not canonical DER (each re-encodes to exactly its bytes).
Result<std::vector<X509Ptr>> parse_der_chain(std::string_view der);
// PEM file contents with one or more CERTIFICATE blocks.
Result<std::vector<X509Ptr>> parse_pem_certs(std::string_view pem);
// Unencrypted PKCS#8 DER private key.
Result<PkeyPtr> parse_pkcs8_der(std::string_view der);

std::string cert_der(X509* cert);
std::string serial_decimal(const X509* cert);
// The serial's magnitude in uppercase hex, two digits a byte (as `openssl x509 -serial`).
std::string serial_hex(const X509* cert);
std::chrono::system_clock::time_point not_before(const X509* cert);
std::chrono::system_clock::time_point not_after(const X509* cert);
// basicConstraints CA:TRUE.
bool is_ca(X509* cert);
// URI subjectAltNames of a certificate, in order.
std::vector<std::string> uri_sans(const X509* cert);
bool key_matches_cert(X509* cert, EVP_PKEY* key);

// What a public or private key is, for people: its algorithm ("RSA", "EC", "ED25519"), its
// size in bits, and for EC keys the NIST curve name ("P-256") or OpenSSL's when there is none.
struct KeyDescription {
  std::string algorithm;
  int bits = 0;
  std::string curve;
};
KeyDescription describe_key(const EVP_PKEY* key);

// Points `store` at the system trust store as OpenSSL's X509_STORE_set_default_paths does
// (SSL_CERT_DIR / SSL_CERT_FILE, else OpenSSL's built-in directory and file), but looks CAs up
// in the hashed directory (`<subject hash>.N`, as `openssl rehash` or Debian's ca-certificates
// make it) when it is needed, instead of parsing the whole bundle file into memory up front.
// The bundle file is still loaded when SSL_CERT_FILE names one, or when no directory holds a
// hashed entry. Verification is unchanged: the same CAs are trusted.
Result<void> use_system_trust_store(X509_STORE* store);

// RSA (any size >= 2048) or EC on P-256/P-384; anything else is an error naming the key.
Result<KeyType> signing_key_type(EVP_PKEY* key);

// SHA-256 signature over `message` (hashed once by the primitive): RSASSA-PKCS1-v1_5 for RSA,
// DER-encoded ECDSA for EC.
Result<std::string> sign_sha256(EVP_PKEY* key, std::string_view message);

}  // namespace awh::crypto
