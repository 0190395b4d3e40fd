#include <doctest/doctest.h>

#include "spiffe/svid.hpp"
#include "test_pki.hpp"

using namespace awh;

namespace {

spiffe::RawX509Svid raw(const testpeers::IssuedSvid& s, std::string bundle, std::string hint = "") {
  return spiffe::RawX509Svid{s.spiffe_id, s.chain_der, s.key_pkcs8_der, std::move(bundle),
                             std::move(hint)};
}

}  // namespace

TEST_CASE("SPIFFE ID syntax") {
  CHECK(spiffe::valid_spiffe_id("spiffe://example.org"));
  CHECK(spiffe::valid_spiffe_id("spiffe://example.org/ns/prod/sa/web"));
  CHECK_FALSE(spiffe::valid_spiffe_id("spiffe://Example.org/x"));
  CHECK_FALSE(spiffe::valid_spiffe_id("spiffe://example.org/"));
  CHECK_FALSE(spiffe::valid_spiffe_id("spiffe://example.org//x"));
  CHECK_FALSE(spiffe::valid_spiffe_id("spiffe://example.org/./x"));
  CHECK_FALSE(spiffe::valid_spiffe_id("spiffe:///x"));
  CHECK_FALSE(spiffe::valid_spiffe_id("https://example.org/x"));
  CHECK_FALSE(spiffe::valid_spiffe_id("spiffe://example.org/x?q"));
}

TEST_CASE("X.509-SVIDs of every supported key type parse, with and without intermediates") {
  testpeers::TestPki pki;
  for (auto kind :
       {testpeers::KeyKind::rsa2048, testpeers::KeyKind::p256, testpeers::KeyKind::p384}) {
    for (bool via_intermediate : {false, true}) {
      CAPTURE(testpeers::to_string(kind));
      CAPTURE(via_intermediate);
      auto issued = pki.issue("spiffe://example.org/w", kind, via_intermediate);
      auto svid = spiffe::parse_x509_svid(raw(issued, pki.root_der()));
      REQUIRE_MESSAGE(svid.has_value(), (svid.has_error() ? svid.error().message : std::string()));
      CHECK(svid->spiffe_id == "spiffe://example.org/w");
      CHECK(svid->serial_decimal == issued.serial_decimal);
      CHECK(svid->leaf_der == issued.leaf_der);
      CHECK(svid->intermediates_der.size() == (via_intermediate ? 1u : 0u));
      CHECK(svid->key_type ==
            (kind == testpeers::KeyKind::rsa2048 ? crypto::KeyType::rsa : crypto::KeyType::ec));
      const auto left = svid->not_after - std::chrono::system_clock::now();
      CHECK(left > std::chrono::minutes(55));
      CHECK(left <= std::chrono::minutes(61));
    }
  }
}

TEST_CASE("bad SVIDs are refused with the reason") {
  testpeers::TestPki pki;
  auto a = pki.issue("spiffe://example.org/a", testpeers::KeyKind::p256, false);
  auto b = pki.issue("spiffe://example.org/b", testpeers::KeyKind::p256, false);

  auto mismatched = raw(a, "");
  mismatched.key_der = b.key_pkcs8_der;
  auto r = spiffe::parse_x509_svid(mismatched);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("does not match the leaf") != std::string::npos);

  auto wrong_id = raw(a, "");
  wrong_id.spiffe_id = "spiffe://example.org/b";
  CHECK(spiffe::parse_x509_svid(wrong_id).error().message.find("URI SAN") != std::string::npos);

  auto garbage_cert = raw(a, "");
  garbage_cert.cert_chain_der = "not DER";
  CHECK(spiffe::parse_x509_svid(garbage_cert).error().message.find("not valid DER") !=
        std::string::npos);

  auto truncated = raw(a, "");
  truncated.cert_chain_der.resize(truncated.cert_chain_der.size() / 2);
  CHECK_FALSE(spiffe::parse_x509_svid(truncated).has_value());

  auto empty_chain = raw(a, "");
  empty_chain.cert_chain_der.clear();
  CHECK_FALSE(spiffe::parse_x509_svid(empty_chain).has_value());

  auto garbage_key = raw(a, "");
  garbage_key.key_der = "xx";
  CHECK(spiffe::parse_x509_svid(garbage_key).error().message.find("PKCS#8") != std::string::npos);

  auto bad_id = raw(a, "");
  bad_id.spiffe_id = "not-a-spiffe-id";
  CHECK_FALSE(spiffe::parse_x509_svid(bad_id).has_value());
}

TEST_CASE("a certificate in BER rather than canonical DER is refused, not rewritten") {
  testpeers::TestPki pki;
  const auto a = pki.issue("spiffe://example.org/a", testpeers::KeyKind::p256, false);
  const std::string& der = a.leaf_der;
  REQUIRE(der.size() > 300);
  REQUIRE(static_cast<unsigned char>(der[0]) == 0x30);
  REQUIRE(static_cast<unsigned char>(der[1]) == 0x82);  // a two-byte length

  // The outer SEQUENCE's length in three bytes with a leading zero: BER, not DER.
  auto long_length = raw(a, "");
  long_length.cert_chain_der = der.substr(0, 1) + "\x83" + std::string(1, '\0') + der.substr(2);
  auto r = spiffe::parse_x509_svid(long_length);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("certificate 1 is not in canonical DER form") != std::string::npos);

  // The signature BIT STRING (the last element) with one unused bit that is set.
  std::size_t bits = 0;
  for (std::size_t i = der.size() - 80; i + 2 < der.size(); ++i) {
    if (static_cast<unsigned char>(der[i]) == 0x03 &&
        i + 2 + static_cast<unsigned char>(der[i + 1]) == der.size() && der[i + 2] == 0) {
      bits = i + 2;
      break;
    }
  }
  REQUIRE(bits != 0);
  std::string padded = der;
  padded[bits] = 1;
  padded.back() = static_cast<char>(padded.back() | 1);
  auto stray_bit = raw(a, "");
  stray_bit.cert_chain_der = padded;
  r = spiffe::parse_x509_svid(stray_bit);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("canonical DER") != std::string::npos);

  // The same for an intermediate: it is named by its place in the chain.
  auto chained = pki.issue("spiffe://example.org/c", testpeers::KeyKind::p256, true);
  auto second = raw(chained, "");
  const std::string inter = chained.chain_der.substr(chained.leaf_der.size());
  REQUIRE(static_cast<unsigned char>(inter[1]) == 0x82);
  second.cert_chain_der =
      chained.leaf_der + inter.substr(0, 1) + "\x83" + std::string(1, '\0') + inter.substr(2);
  r = spiffe::parse_x509_svid(second);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("certificate 2 is not in canonical DER form") != std::string::npos);
}

TEST_CASE("SVID selection by hint and SPIFFE ID") {
  std::vector<spiffe::RawX509Svid> svids{
      {"spiffe://example.org/a", "", "", "", "internal"},
      {"spiffe://example.org/b", "", "", "", "external"},
      {"spiffe://example.org/c", "", "", "", "external"},
  };
  CHECK(*spiffe::select_svid(svids, {}) == 0);
  CHECK(*spiffe::select_svid(svids, {std::string("external"), std::nullopt}) == 1);
  CHECK(*spiffe::select_svid(svids, {std::nullopt, std::string("spiffe://example.org/c")}) == 2);
  CHECK(*spiffe::select_svid(
            svids, {std::string("external"), std::string("spiffe://example.org/c")}) == 2);

  auto none =
      spiffe::select_svid(svids, {std::string("internal"), std::string("spiffe://example.org/c")});
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().cls == errc::not_found);
  CHECK(none.error().message ==
        "no SVID matches SPIFFE ID spiffe://example.org/c and hint 'internal'; available: "
        "spiffe://example.org/a (hint 'internal'), spiffe://example.org/b (hint 'external'), "
        "spiffe://example.org/c (hint 'external')");
  CHECK_FALSE(spiffe::select_svid({}, {}).has_value());
}

TEST_CASE("JWT-SVID selection follows the same rules and messages") {
  std::vector<spiffe::RawJwtSvid> svids{
      {"spiffe://example.org/a", std::string("header.payload.sig-a"), ""},
      {"spiffe://example.org/b", std::string("header.payload.sig-b"), "external"},
      {"spiffe://example.org/c", std::string("header.payload.sig-c"), "external"},
  };
  CHECK(*spiffe::select_jwt_svid(svids, {}) == 0);
  CHECK(*spiffe::select_jwt_svid(svids, {std::string("external"), std::nullopt}) == 1);
  CHECK(*spiffe::select_jwt_svid(svids, {std::nullopt, std::string("spiffe://example.org/c")}) ==
        2);
  CHECK(*spiffe::select_jwt_svid(
            svids, {std::string("external"), std::string("spiffe://example.org/c")}) == 2);
  CHECK(*spiffe::select_jwt_svid(svids, {std::nullopt, std::string("spiffe://example.org/a")}) ==
        0);

  auto none = spiffe::select_jwt_svid(svids, {std::string("internal"), std::nullopt});
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().cls == errc::not_found);
  CHECK(none.error().message ==
        "no SVID matches hint 'internal'; available: spiffe://example.org/a, "
        "spiffe://example.org/b (hint 'external'), spiffe://example.org/c (hint 'external')");
  CHECK(none.error().message.find("sig-") == std::string::npos);  // never the tokens

  auto wrong_id =
      spiffe::select_jwt_svid(svids, {std::nullopt, std::string("spiffe://example.org/z")});
  REQUIRE_FALSE(wrong_id.has_value());
  CHECK(wrong_id.error().message.rfind(
            "no SVID matches SPIFFE ID spiffe://example.org/z; available: ", 0) == 0);

  auto empty = spiffe::select_jwt_svid({}, {});
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().cls == errc::not_found);
  CHECK(empty.error().message == "the Workload API returned no SVID");
}

TEST_CASE("X.509 and JWT selection agree on the same labels") {
  const std::vector<std::pair<std::string, std::string>> labels{{"spiffe://example.org/a", "x"},
                                                                {"spiffe://example.org/b", ""},
                                                                {"spiffe://example.org/a", "y"}};
  std::vector<spiffe::RawX509Svid> x509;
  std::vector<spiffe::RawJwtSvid> jwt;
  for (const auto& [id, hint] : labels) {
    x509.push_back({id, "", "", "", hint});
    jwt.push_back({id, std::string("t"), hint});
  }
  for (const auto& selector :
       {spiffe::Selector{}, spiffe::Selector{std::string("y"), std::nullopt},
        spiffe::Selector{std::nullopt, std::string("spiffe://example.org/b")},
        spiffe::Selector{std::string("y"), std::string("spiffe://example.org/a")},
        spiffe::Selector{std::string("x"), std::string("spiffe://example.org/b")},
        spiffe::Selector{std::string(""), std::nullopt}}) {
    const auto a = spiffe::select_svid(x509, selector);
    const auto b = spiffe::select_jwt_svid(jwt, selector);
    REQUIRE(a.has_value() == b.has_value());
    if (a) {
      CHECK(*a == *b);
    } else {
      CHECK(a.error().message == b.error().message);
    }
  }
}

TEST_CASE("a leaf that is expired, not yet valid or a CA is refused before signing") {
  testpeers::TestPki pki;
  const auto issued = pki.issue("spiffe://example.org/w", testpeers::KeyKind::p256, true);
  auto svid = spiffe::parse_x509_svid(raw(issued, pki.root_der()));
  REQUIRE(svid.has_value());
  const auto now = std::chrono::system_clock::now();
  CHECK_FALSE(svid->is_ca);
  CHECK(svid->not_before <= now);
  CHECK(spiffe::check_signing_leaf(*svid, now).has_value());

  const auto expired = spiffe::check_signing_leaf(*svid, svid->not_after);
  REQUIRE_FALSE(expired.has_value());
  CHECK(expired.error().cls == errc::invalid_input);
  CHECK(expired.error().message.find("expired at") != std::string::npos);
  const auto early = spiffe::check_signing_leaf(*svid, svid->not_before - std::chrono::seconds(1));
  REQUIRE_FALSE(early.has_value());
  CHECK(early.error().message.find("is not valid before") != std::string::npos);
  svid->is_ca = true;
  const auto ca = spiffe::check_signing_leaf(*svid, now);
  REQUIRE_FALSE(ca.has_value());
  CHECK(ca.error().message.find("is a CA certificate") != std::string::npos);
}
