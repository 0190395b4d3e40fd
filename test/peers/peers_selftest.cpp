// Self-check of the test peers: the run-time PKI issues chains that OpenSSL verifies and keys
// that match, and the fake Workload API follows the SPIFFE rules the helper relies on.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fake_workload_api.hpp"
#include "ossl_ptr.hpp"
#include "test_pki.hpp"
#include "workload.grpc.pb.h"

namespace awh::testpeers {
namespace {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// PKI helpers

X509Ptr parse_cert(const unsigned char*& p, const unsigned char* end) {
  return X509Ptr(checked(d2i_X509(nullptr, &p, static_cast<long>(end - p)), "d2i_X509"));
}

std::vector<X509Ptr> parse_chain(const std::string& der) {
  std::vector<X509Ptr> certs;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const auto* end = p + der.size();
  while (p < end) certs.push_back(parse_cert(p, end));
  return certs;
}

X509Ptr parse_one(const std::string& der) {
  auto certs = parse_chain(der);
  REQUIRE(certs.size() == 1);
  return std::move(certs.front());
}

// The X509_V_* result of verifying chain_der (leaf first) against the root alone.
int verify_chain(const TestPki& pki, const std::string& chain_der) {
  std::vector<X509Ptr> chain = parse_chain(chain_der);
  REQUIRE(!chain.empty());
  X509Ptr root = parse_one(pki.root_der());

  X509StorePtr store(checked(X509_STORE_new(), "X509_STORE_new"));
  checked_int(X509_STORE_add_cert(store.get(), root.get()), "X509_STORE_add_cert");
  X509StackPtr untrusted(checked(sk_X509_new_null(), "sk_X509_new_null"));
  for (size_t i = 1; i < chain.size(); ++i) {
    checked_int(sk_X509_push(untrusted.get(), chain[i].get()), "sk_X509_push");
    chain[i].release();  // owned by the stack now
  }
  X509StoreCtxPtr ctx(checked(X509_STORE_CTX_new(), "X509_STORE_CTX_new"));
  checked_int(X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted.get()),
              "X509_STORE_CTX_init");
  if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(ctx.get());
}

EvpPkeyPtr parse_pkcs8(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Pkcs8InfoPtr p8(
      checked(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())), "d2i_PKCS8"));
  CHECK(p == reinterpret_cast<const unsigned char*>(der.data()) + der.size());
  return EvpPkeyPtr(checked(EVP_PKCS82PKEY(p8.get()), "EVP_PKCS82PKEY"));
}

std::string uri_san(X509* cert) {
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  REQUIRE(names);
  REQUIRE(sk_GENERAL_NAME_num(names.get()) == 1);
  const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), 0);
  REQUIRE(gn->type == GEN_URI);
  const ASN1_IA5STRING* uri = gn->d.uniformResourceIdentifier;
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                     static_cast<size_t>(ASN1_STRING_length(uri)));
}

std::string serial_decimal(X509* cert) {
  BignumPtr bn(
      checked(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr), "ASN1_INTEGER_to_BN"));
  OsslStringPtr dec(checked(BN_bn2dec(bn.get()), "BN_bn2dec"));
  return dec.get();
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Workload API helpers

class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "awh-peers-XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ignored;  // best-effort cleanup; a leftover temp dir is not a test failure
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Fixture {
  TestPki pki;
  TempDir dir;
  FakeWorkloadApi api{dir.path() + "/agent.sock"};
  std::unique_ptr<SpiffeWorkloadAPI::Stub> stub = SpiffeWorkloadAPI::NewStub(
      grpc::CreateChannel(api.address(), grpc::InsecureChannelCredentials()));

  FakeSvid svid(const std::string& id, const std::string& hint, KeyKind kind = KeyKind::p256) {
    IssuedSvid issued = pki.issue(id, kind, false);
    return FakeSvid{issued.spiffe_id, issued.chain_der, issued.key_pkcs8_der, pki.root_der(), hint};
  }
};

// Every client call is bounded by a deadline, so a broken peer fails the test instead of hanging.
void prepare(grpc::ClientContext& ctx, bool with_header = true) {
  if (with_header) ctx.AddMetadata("workload.spiffe.io", "true");
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
}

using X509Reader = grpc::ClientReader<X509SVIDResponse>;

std::unique_ptr<X509Reader> open_x509(Fixture& f, grpc::ClientContext& ctx) {
  return f.stub->FetchX509SVID(&ctx, X509SVIDRequest{});
}

grpc::Status x509_status_of_refused_call(Fixture& f, bool with_header) {
  grpc::ClientContext ctx;
  prepare(ctx, with_header);
  auto reader = open_x509(f, ctx);
  X509SVIDResponse resp;
  CHECK_FALSE(reader->Read(&resp));
  return reader->Finish();
}

}  // namespace

// ---------------------------------------------------------------------------------------------

TEST_CASE("TestPki issues SVIDs that chain to the root and match their keys") {
  TestPki pki("example.org");
  const X509Ptr root = parse_one(pki.root_der());
  CHECK(X509_check_ca(root.get()) >= 1);
  CHECK(pki.root_pem().rfind("-----BEGIN CERTIFICATE-----\n", 0) == 0);

  for (KeyKind kind : {KeyKind::rsa2048, KeyKind::p256, KeyKind::p384}) {
    for (bool via_intermediate : {false, true}) {
      CAPTURE(to_string(kind));
      CAPTURE(via_intermediate);
      std::string id = "spiffe://example.org/ns/test/sa/";
      id += to_string(kind);
      const IssuedSvid svid = pki.issue(id, kind, via_intermediate);

      CHECK(svid.spiffe_id == id);
      CHECK(svid.chain_der ==
            svid.leaf_der + (via_intermediate ? pki.intermediate_der() : std::string()));
      CHECK(parse_chain(svid.chain_der).size() == (via_intermediate ? 2u : 1u));
      CHECK(verify_chain(pki, svid.chain_der) == X509_V_OK);

      const X509Ptr leaf = parse_one(svid.leaf_der);
      CHECK(X509_get_version(leaf.get()) == X509_VERSION_3);
      CHECK(X509_check_ca(leaf.get()) == 0);
      CHECK((X509_get_key_usage(leaf.get()) & KU_DIGITAL_SIGNATURE) != 0);
      CHECK((X509_get_extended_key_usage(leaf.get()) & (XKU_SSL_CLIENT | XKU_SSL_SERVER)) ==
            (XKU_SSL_CLIENT | XKU_SSL_SERVER));
      CHECK(uri_san(leaf.get()) == id);
      CHECK(serial_decimal(leaf.get()) == svid.serial_decimal);
      CHECK(svid.serial_decimal != "0");
      CHECK(svid.serial_decimal.front() != '-');

      const EvpPkeyPtr key = parse_pkcs8(svid.key_pkcs8_der);
      CHECK(X509_check_private_key(leaf.get(), key.get()) == 1);
      switch (kind) {
        case KeyKind::rsa2048:
          CHECK(EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_RSA);
          CHECK(EVP_PKEY_get_bits(key.get()) == 2048);
          break;
        case KeyKind::p256:
          CHECK(EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_EC);
          CHECK(EVP_PKEY_get_bits(key.get()) == 256);
          break;
        case KeyKind::p384:
          CHECK(EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_EC);
          CHECK(EVP_PKEY_get_bits(key.get()) == 384);
          break;
      }
    }
  }
}

TEST_CASE("TestPki: fresh keys and serials, expired leaves, PEM conversion") {
  TestPki pki;
  const IssuedSvid a = pki.issue("spiffe://example.org/a", KeyKind::p256, true);
  const IssuedSvid b = pki.issue("spiffe://example.org/a", KeyKind::p256, true);
  CHECK(a.key_pkcs8_der != b.key_pkcs8_der);
  CHECK(a.serial_decimal != b.serial_decimal);

  const IssuedSvid expired =
      pki.issue("spiffe://example.org/old", KeyKind::p256, false, std::chrono::seconds(-30));
  CHECK(verify_chain(pki, expired.chain_der) == X509_V_ERR_CERT_HAS_EXPIRED);

  const std::string pem = der_to_pem_cert(a.chain_der);
  CHECK(count(pem, "-----BEGIN CERTIFICATE-----") == 2);
  CHECK_THROWS_AS(der_to_pem_cert("not DER"), std::runtime_error);

  // Another PKI's root does not verify this PKI's leaves.
  TestPki other;
  CHECK(verify_chain(other, a.chain_der) != X509_V_OK);
}

TEST_CASE("FakeWorkloadApi rejects calls without the security header") {
  Fixture f;
  f.api.set_svids({f.svid("spiffe://example.org/a", "")});

  const grpc::Status x509 = x509_status_of_refused_call(f, /*with_header=*/false);
  CHECK(x509.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(x509.error_message() == "security header missing from request");

  grpc::ClientContext ctx;
  prepare(ctx, /*with_header=*/false);
  JWTSVIDRequest req;
  req.add_audience("aud");
  JWTSVIDResponse resp;
  const grpc::Status jwt = f.stub->FetchJWTSVID(&ctx, req, &resp);
  CHECK(jwt.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(jwt.error_message() == "security header missing from request");

  CHECK(f.api.rejected_without_header() == 2);
  CHECK(f.api.calls() == 2);
}

TEST_CASE("FakeWorkloadApi: PERMISSION_DENIED before any SVID, then streams the full state") {
  Fixture f;
  const grpc::Status denied = x509_status_of_refused_call(f, true);
  CHECK(denied.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(denied.error_message() == "no identity issued");

  const FakeSvid first = f.svid("spiffe://example.org/a", "internal", KeyKind::rsa2048);
  const FakeSvid second = f.svid("spiffe://example.org/b", "external");
  f.api.set_svids({first, second});

  grpc::ClientContext ctx;
  prepare(ctx);
  auto reader = open_x509(f, ctx);
  X509SVIDResponse resp;
  REQUIRE(reader->Read(&resp));
  REQUIRE(resp.svids_size() == 2);
  CHECK(resp.svids(0).spiffe_id() == first.spiffe_id);
  CHECK(resp.svids(0).x509_svid() == first.chain_der);
  CHECK(resp.svids(0).x509_svid_key() == first.key_der);
  CHECK(resp.svids(0).bundle() == f.pki.root_der());
  CHECK(resp.svids(0).hint() == "internal");
  CHECK(resp.svids(1).spiffe_id() == second.spiffe_id);
  CHECK(resp.svids(1).hint() == "external");
  CHECK(f.api.open_streams() == 1);

  // An update reaches the open stream as a second message carrying the whole new state.
  const FakeSvid rotated = f.svid("spiffe://example.org/a", "internal");
  f.api.set_svids({rotated});
  REQUIRE(reader->Read(&resp));
  REQUIRE(resp.svids_size() == 1);
  CHECK(resp.svids(0).x509_svid() == rotated.chain_der);

  // Updates faster than the client reads: it ends up with the newest state.
  for (int i = 0; i < 50; ++i) {
    f.api.set_svids({FakeSvid{"spiffe://example.org/a", rotated.chain_der, rotated.key_der,
                              rotated.bundle_der, std::string("v").append(std::to_string(i))}});
  }
  bool saw_last = false;
  while (!saw_last && reader->Read(&resp)) {
    REQUIRE(resp.svids_size() == 1);
    saw_last = resp.svids(0).hint() == "v49";
  }
  CHECK(saw_last);

  // The client cancels: the stream ends CANCELLED and the server forgets it.
  ctx.TryCancel();
  while (reader->Read(&resp)) {
  }
  CHECK(reader->Finish().error_code() == grpc::StatusCode::CANCELLED);
  CHECK(f.api.wait_for_open_streams(0, 5s));
}

TEST_CASE("FakeWorkloadApi: fail_next injects failures, then serves again") {
  Fixture f;
  f.api.set_svids({f.svid("spiffe://example.org/a", "")});
  f.api.fail_next(grpc::StatusCode::UNAVAILABLE, 1, "agent restarting");

  const grpc::Status failed = x509_status_of_refused_call(f, true);
  CHECK(failed.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(failed.error_message() == "agent restarting");

  grpc::ClientContext ctx;
  prepare(ctx);
  auto reader = open_x509(f, ctx);
  X509SVIDResponse resp;
  CHECK(reader->Read(&resp));
  CHECK(resp.svids_size() == 1);

  // Losing the identity ends the open stream the way SPIRE does.
  f.api.set_no_identity(true);
  CHECK_FALSE(reader->Read(&resp));
  const grpc::Status ended = reader->Finish();
  CHECK(ended.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(ended.error_message() == "no identity issued");
  CHECK(x509_status_of_refused_call(f, true).error_code() == grpc::StatusCode::PERMISSION_DENIED);
  f.api.set_no_identity(false);

  // end_streams: an agent restart as the client sees it.
  grpc::ClientContext ctx2;
  prepare(ctx2);
  auto reader2 = open_x509(f, ctx2);
  REQUIRE(reader2->Read(&resp));
  f.api.end_streams(grpc::StatusCode::UNAVAILABLE, "restart");
  CHECK_FALSE(reader2->Read(&resp));
  CHECK(reader2->Finish().error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(f.api.calls() == 4);
}

TEST_CASE("FakeWorkloadApi: FetchJWTSVID filters by SPIFFE ID and records audiences") {
  Fixture f;
  auto fetch = [&](std::vector<std::string> audiences, std::string spiffe_id,
                   JWTSVIDResponse& resp) {
    grpc::ClientContext ctx;
    prepare(ctx);
    JWTSVIDRequest req;
    for (auto& a : audiences) req.add_audience(a);
    req.set_spiffe_id(spiffe_id);
    return f.stub->FetchJWTSVID(&ctx, req, &resp);
  };

  JWTSVIDResponse resp;
  CHECK(fetch({"sts.amazonaws.com"}, "", resp).error_code() == grpc::StatusCode::PERMISSION_DENIED);

  f.api.set_jwt_svids({FakeJwtSvid{"spiffe://example.org/a", "token-a", "ha"},
                       FakeJwtSvid{"spiffe://example.org/b", "token-b", "hb"}});
  resp.Clear();
  REQUIRE(fetch({"sts.amazonaws.com", "other"}, "", resp).ok());
  CHECK(resp.svids_size() == 2);
  CHECK(f.api.last_jwt_audiences() == std::vector<std::string>{"sts.amazonaws.com", "other"});

  resp.Clear();
  REQUIRE(fetch({"aud"}, "spiffe://example.org/b", resp).ok());
  REQUIRE(resp.svids_size() == 1);
  CHECK(resp.svids(0).svid() == "token-b");
  CHECK(resp.svids(0).hint() == "hb");
  CHECK(f.api.last_jwt_spiffe_id() == "spiffe://example.org/b");

  resp.Clear();
  CHECK(fetch({}, "", resp).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  f.api.fail_next(grpc::StatusCode::UNAVAILABLE, 1);
  CHECK(fetch({"aud"}, "", resp).error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(fetch({"aud"}, "", resp).ok());
}

TEST_CASE("FakeWorkloadApi: shutdown and destruction with open streams are prompt") {
  auto f = std::make_unique<Fixture>();
  f->api.set_svids({f->svid("spiffe://example.org/a", "")});

  grpc::ClientContext ctx;
  prepare(ctx);
  auto reader = open_x509(*f, ctx);
  X509SVIDResponse resp;
  REQUIRE(reader->Read(&resp));

  // A second stream that never reads again.
  grpc::ClientContext idle_ctx;
  prepare(idle_ctx);
  auto idle = open_x509(*f, idle_ctx);
  REQUIRE(f->api.wait_for_open_streams(2, 5s));

  const auto start = std::chrono::steady_clock::now();
  f->api.shutdown();
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  CHECK_FALSE(reader->Read(&resp));
  const grpc::Status status = reader->Finish();
  CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);

  f.reset();  // destroy the server while `idle` is still unread on the client side
  while (idle->Read(&resp)) {
  }
  CHECK_FALSE(idle->Finish().ok());

  // Destroying without an explicit shutdown, with a stream open, is prompt too.
  auto g = std::make_unique<Fixture>();
  g->api.set_svids({g->svid("spiffe://example.org/a", "")});
  grpc::ClientContext ctx3;
  prepare(ctx3);
  auto reader3 = open_x509(*g, ctx3);
  REQUIRE(reader3->Read(&resp));
  const auto start3 = std::chrono::steady_clock::now();
  g.reset();
  CHECK(std::chrono::steady_clock::now() - start3 < 3s);
  while (reader3->Read(&resp)) {
  }
  CHECK_FALSE(reader3->Finish().ok());
}

TEST_CASE("FakeWorkloadApi: a new server on the same path replaces a stale socket") {
  TempDir dir;
  const std::string path = dir.path() + "/agent.sock";
  { FakeWorkloadApi first(path); }
  FakeWorkloadApi second(path);
  CHECK(second.address() == std::string("unix:") + path);
  CHECK_THROWS_AS(FakeWorkloadApi(dir.path() + "/missing-dir/agent.sock"), std::runtime_error);
}

}  // namespace awh::testpeers
