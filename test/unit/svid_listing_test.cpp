// The diagnostics' listing (app/svid_listing.hpp): what it says about SVIDs it can't read, and
// that it prints nothing secret. The certificate facts themselves are checked end to end against
// pyca/cryptography (test/integration/svids_test.cpp).
#include <doctest/doctest.h>

#include "app/svid_listing.hpp"
#include "test_pki.hpp"

using namespace awh;

namespace {

std::string b64url(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (unsigned char c : in) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out.push_back(kAlphabet[(bits >> count) & 0x3f]);
    }
  }
  if (count > 0) out.push_back(kAlphabet[(bits << (6 - count)) & 0x3f]);
  return out;
}

}  // namespace

TEST_CASE("x509: an SVID whose certificates can't be parsed is listed with the reason") {
  testpeers::TestPki pki;
  const auto good = pki.issue("spiffe://example.org/good", testpeers::KeyKind::p384, false);
  std::vector<spiffe::RawX509Svid> svids(2);
  svids[0].spiffe_id = "spiffe://example.org/broken";
  svids[0].cert_chain_der = "not DER";
  svids[0].key_der = good.key_pkcs8_der;
  svids[1].spiffe_id = good.spiffe_id;
  svids[1].cert_chain_der = good.chain_der;
  svids[1].key_der = good.key_pkcs8_der;
  svids[1].hint = "bad\nhint";

  const auto listing = app::list_x509_svids(svids, spiffe::Selector{});
  REQUIRE(listing.svids.size() == 2);
  CHECK(listing.selected == 0u);  // selection is by labels, as in the exchange commands
  CHECK(listing.svids[0].serial_decimal.empty());
  CHECK(listing.svids[0].chain_length == 0);
  CHECK_FALSE(listing.svids[0].problem.empty());
  CHECK(listing.svids[1].problem.empty());
  CHECK(listing.svids[1].serial_decimal == good.serial_decimal);
  CHECK(listing.svids[1].key_curve == "P-384");
  CHECK(listing.svids[1].chain_length == 1);

  const auto text = app::format_text(listing);
  CAPTURE(text);
  CHECK(text.find("  [0] spiffe://example.org/broken   <- selected\n      hint        -\n"
                  "      serial      -\n") != std::string::npos);
  CHECK(text.find("      unusable    X.509-SVID spiffe://example.org/broken: ") !=
        std::string::npos);
  CHECK(text.find("bad\\nhint") != std::string::npos);  // escaped: no forged lines
  CHECK(text.find("chain       1 certificate (leaf + 0 intermediates)\n") != std::string::npos);

  const auto json = app::format_json(listing);
  CHECK(json.find(R"("serial":null)") != std::string::npos);
  CHECK(json.find(R"("hint":"bad\nhint")") != std::string::npos);
  CHECK(json.back() == '\n');
}

TEST_CASE("jwt: the header and claims, never the token; problems say why") {
  const auto now = std::chrono::system_clock::now();
  const auto exp =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() + 60;
  const std::string header = b64url(R"({"alg":"ES384","kid":"k-7"})");
  const std::string payload =
      b64url(R"({"sub":"spiffe://example.org/a","aud":"other","exp":)" + std::to_string(exp) + "}");
  const std::string signature = b64url("very secret signature");
  std::vector<spiffe::RawJwtSvid> svids(2);
  svids[0].spiffe_id = "spiffe://example.org/a";
  svids[0].token = header + "." + payload + "." + signature;
  svids[0].hint = "a";
  svids[1].spiffe_id = "spiffe://example.org/b";
  svids[1].token = "garbage";

  spiffe::Selector selector;
  selector.hint = "a";
  const auto listing = app::list_jwt_svids(svids, selector, "sts.amazonaws.com", now);
  REQUIRE(listing.svids.size() == 2);
  CHECK(listing.selected == 0u);
  CHECK(listing.selection == "the first SVID matching --hint 'a'");
  const auto& a = listing.svids[0];
  CHECK(a.algorithm == "ES384");
  CHECK(a.key_id == "k-7");
  CHECK(a.audience == std::vector<std::string>{"other"});
  CHECK(a.problem.find("does not include 'sts.amazonaws.com'") != std::string::npos);
  CHECK(listing.svids[1].subject.empty());
  CHECK(listing.svids[1].problem.find("not a JWT") != std::string::npos);

  for (const auto& out : {app::format_text(listing), app::format_json(listing)}) {
    CAPTURE(out);
    CHECK(out.find(header) == std::string::npos);
    CHECK(out.find(payload) == std::string::npos);
    CHECK(out.find(signature) == std::string::npos);
    CHECK(out.find("garbage") == std::string::npos);
  }
}

TEST_CASE("no match: nothing selected, and the reason lists what there is") {
  std::vector<spiffe::RawJwtSvid> svids(1);
  svids[0].spiffe_id = "spiffe://example.org/a";
  svids[0].token = "x.y.z";
  spiffe::Selector selector;
  selector.spiffe_id = "spiffe://example.org/zzz";
  const auto listing =
      app::list_jwt_svids(svids, selector, "aud", std::chrono::system_clock::now());
  CHECK_FALSE(listing.selected.has_value());
  CHECK(app::format_text(listing).find("selected: none; no SVID matches SPIFFE ID "
                                       "spiffe://example.org/zzz; available: "
                                       "spiffe://example.org/a\n") != std::string::npos);
  CHECK(app::format_json(listing).find(R"("selected":null)") != std::string::npos);
}
