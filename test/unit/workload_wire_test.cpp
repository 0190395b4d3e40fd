// The Workload API messages in protobuf's wire format (spiffe/workload_wire.hpp), against bytes
// written out by hand from the encoding rules. The integration tests check the same code against
// protoc's generated code in the fake Workload API.

#include <doctest/doctest.h>

#include <string>

#include "spiffe/workload_wire.hpp"

using namespace awh::spiffe;
using namespace std::string_literals;

namespace {

// One length-delimited field (wire type 2) whose key and length fit in one byte each.
std::string ld(int number, const std::string& value) {
  REQUIRE(value.size() < 128);
  return std::string(1, static_cast<char>(number << 3 | 2)) +
         std::string(1, static_cast<char>(value.size())) + value;
}

}  // namespace

TEST_CASE("requests: X509SVIDRequest is empty; JWTSVIDRequest carries audience and SPIFFE ID") {
  CHECK(wire::x509_svid_request().empty());
  CHECK(wire::jwt_svid_request("sts.amazonaws.com", std::nullopt) == "\x0a\x11sts.amazonaws.com"s);
  CHECK(wire::jwt_svid_request("aud", "spiffe://example.org/w"s) ==
        "\x0a\x03"
        "aud"
        "\x12\x16spiffe://example.org/w"s);
  // proto3 leaves a field at its default ("") out.
  CHECK(wire::jwt_svid_request("aud", ""s) ==
        "\x0a\x03"
        "aud"s);
  // A length of 128 or more takes a two-byte varint.
  const std::string long_audience(200, 'a');
  CHECK(wire::jwt_svid_request(long_audience, std::nullopt) == "\x0a\xc8\x01"s + long_audience);
}

TEST_CASE("X509SVIDResponse: every SVID with its fields, in order") {
  const std::string first = ld(1, "spiffe://example.org/a") + ld(2, "CHAIN") + ld(3, "KEY") +
                            ld(4, "BUNDLE") + ld(5, "internal");
  const std::string second = ld(5, "h2") + ld(1, "spiffe://example.org/b") + ld(2, "C2");
  auto svids = wire::x509_svid_response(ld(1, first) + ld(1, second));
  REQUIRE(svids.has_value());
  REQUIRE(svids->size() == 2);
  CHECK((*svids)[0].spiffe_id == "spiffe://example.org/a");
  CHECK((*svids)[0].cert_chain_der == "CHAIN");
  CHECK((*svids)[0].key_der.str() == "KEY");
  CHECK((*svids)[0].bundle_der == "BUNDLE");
  CHECK((*svids)[0].hint == "internal");
  CHECK((*svids)[1].spiffe_id == "spiffe://example.org/b");  // fields in any order
  CHECK((*svids)[1].hint == "h2");
  CHECK((*svids)[1].key_der.empty());  // absent: the SVID parser refuses it later

  auto empty = wire::x509_svid_response("");
  REQUIRE(empty.has_value());
  CHECK(empty->empty());
}

TEST_CASE("X509SVIDResponse: CRLs, federated bundles and unknown fields are skipped") {
  const std::string svid = ld(1, "spiffe://example.org/a") + ld(2, "CHAIN") +
                           "\x30\x96\x01"s +               // field 6, varint 150
                           "\x39" + std::string(8, 'x') +  // field 7, fixed64
                           "\x45" + std::string(4, 'y') +  // field 8, fixed32
                           ld(9, "future");
  const std::string federated = ld(1, "spiffe://other.org") + ld(2, "BUNDLE");
  const std::string message =
      ld(2, "CRL") + ld(1, svid) + ld(3, federated) + "\xa0\x06\x01"s;  // field 100, varint 1
  auto svids = wire::x509_svid_response(message);
  REQUIRE(svids.has_value());
  REQUIRE(svids->size() == 1);
  CHECK((*svids)[0].cert_chain_der == "CHAIN");
  CHECK((*svids)[0].bundle_der.empty());

  // A known field number with an unexpected wire type is skipped too, as protobuf does.
  auto odd = wire::x509_svid_response("\x08\x05"s + ld(1, ld(1, "spiffe://example.org/a")));
  REQUIRE(odd.has_value());
  CHECK(odd->size() == 1);
}

TEST_CASE("X509SVIDResponse: the last of a repeated scalar field wins") {
  auto svids = wire::x509_svid_response(ld(1, ld(5, "old") + ld(5, "new")));
  REQUIRE(svids.has_value());
  CHECK((*svids)[0].hint == "new");
}

TEST_CASE("malformed messages are refused with what is wrong") {
  auto message = [](const std::string& bytes) {
    auto r = wire::x509_svid_response(bytes);
    REQUIRE_FALSE(r.has_value());
    return r.error().message;
  };
  CHECK(message("\x0a\x05"
                "abc"s) == "a malformed X509SVIDResponse: a field longer than the message");
  CHECK(message("\x0a"s) == "a malformed X509SVIDResponse: a truncated varint");
  CHECK(message("\x08\x80\x80"s) == "a malformed X509SVIDResponse: a truncated varint");
  CHECK(message("\x08"s + std::string(9, '\xff') + "\x02"s) ==
        "a malformed X509SVIDResponse: a varint over 64 bits");
  CHECK(message("\x09\x01\x02"s) == "a malformed X509SVIDResponse: a truncated fixed 64-bit field");
  CHECK(message("\x0d\x01"s) == "a malformed X509SVIDResponse: a truncated fixed 32-bit field");
  CHECK(message("\x0b"s) == "a malformed X509SVIDResponse: wire type 3 in field 1");
  CHECK(message("\x0e"s) == "a malformed X509SVIDResponse: wire type 6 in field 1");
  CHECK(message("\x02\x00"s) == "a malformed X509SVIDResponse: a field number out of range");
  // Inside an SVID: named as such.
  CHECK(message(ld(1,
                   "\x12\x09"
                   "short"s)) == "a malformed X509SVID: a field longer than the message");
  // A 10-byte varint with the top bit: the largest 64-bit value is still fine.
  auto max = wire::x509_svid_response("\x08"s + std::string(9, '\xff') + "\x01"s);
  CHECK(max.has_value());
}

TEST_CASE("JWTSVIDResponse: tokens, SPIFFE IDs and hints") {
  const std::string a = ld(1, "spiffe://example.org/a") + ld(2, "eyJ.a.b") + ld(3, "h");
  const std::string b = ld(2, "eyJ.c.d") + ld(1, "spiffe://example.org/b") + ld(4, "later");
  auto svids = wire::jwt_svid_response(ld(1, a) + ld(2, "skip") + ld(1, b));
  REQUIRE(svids.has_value());
  REQUIRE(svids->size() == 2);
  CHECK((*svids)[0].spiffe_id == "spiffe://example.org/a");
  CHECK((*svids)[0].token.str() == "eyJ.a.b");
  CHECK((*svids)[0].hint == "h");
  CHECK((*svids)[1].spiffe_id == "spiffe://example.org/b");
  CHECK((*svids)[1].token.str() == "eyJ.c.d");
  CHECK((*svids)[1].hint.empty());

  auto bad = wire::jwt_svid_response(ld(1, "\x12\x40"s));
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message == "a malformed JWTSVID: a field longer than the message");
  CHECK(wire::jwt_svid_response("\x0a\x7f"s).error().message ==
        "a malformed JWTSVIDResponse: a field longer than the message");
}
