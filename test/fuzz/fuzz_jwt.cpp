// The JWT-SVID check (spiffe/jwt.hpp). Input: the audience, the clock, then either a raw token
// or (first byte of the mode field odd) a header JSON, a payload JSON and signature bytes that
// the target encodes, so that most inputs reach the claims. When a token is accepted:
//  - its claims are what was asked for: a valid SPIFFE ID, the audience among `aud`, an expiry
//    after now; the same token is refused at its expiry and with an audience it doesn't name;
//  - any byte of it replaced by one outside base64url (or a dot), the signature removed or
//    emptied, or the header's alg changed to "none" is refused;
//  - the signature's content does not change the decision: the check never claims to verify it
//    (STS, the relying party, does), so another signature of the same shape gives the same
//    claims.

#include <boost/json.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "fuzz.hpp"
#include "spiffe/jwt.hpp"
#include "spiffe/svid.hpp"

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string b64url(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16 |
                       static_cast<unsigned char>(in[i + 1]) << 8 |
                       static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (in.size() - i == 1) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (in.size() - i == 2) {
    const unsigned v =
        static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1]) << 8;
    for (int s = 18; s >= 6; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  return out;
}

std::optional<std::string> unb64url(std::string_view in) {
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (char c : in) {
    const auto v = kAlphabet.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    bits = (bits << 6) | static_cast<unsigned>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace std::chrono;
  using awh::spiffe::check_jwt_svid;
  const auto f = awh::fuzz::fields(data, size, 6);
  const std::string_view audience = f[0];
  // now: 2026-11-24T12:00:00Z plus up to ~65000 s from two bytes of the clock field.
  const auto offset = f[1].size() >= 2 ? static_cast<unsigned char>(f[1][0]) << 8 |
                                             static_cast<unsigned char>(f[1][1])
                                       : 0;
  const system_clock::time_point now{seconds(1795521600 + offset)};
  const bool structured = awh::fuzz::small(f[2]) % 2 == 1;
  const std::string token =
      structured ? b64url(f[3]) + "." + b64url(f[4]) + "." + b64url(f[5]) : std::string(f[3]);
  const auto claims = check_jwt_svid(token, audience, now);
  if (!claims) return 0;

  FUZZ_CHECK(awh::spiffe::valid_spiffe_id(claims->subject));
  FUZZ_CHECK(claims->expiry > now);
  bool named = false;
  for (const auto& a : claims->audience) named = named || a == audience;
  FUZZ_CHECK(named);
  FUZZ_CHECK(!check_jwt_svid(token, audience, claims->expiry));
  FUZZ_CHECK(!check_jwt_svid(token, std::string(audience) + "\x01", now));

  // One byte replaced by a character outside base64url.
  const std::size_t at =
      awh::fuzz::small(f[1].substr(f[1].size() > 2 ? 2 : f[1].size())) * 7 % token.size();
  if (token[at] != '.') {
    for (char bad : {'=', '+', '/', ' ', '\0', '.'}) {
      std::string t = token;
      t[at] = bad;
      FUZZ_CHECK(!check_jwt_svid(t, audience, now));
    }
  }
  const auto first_dot = token.find('.');
  const auto last_dot = token.rfind('.');
  FUZZ_CHECK(first_dot != last_dot);
  FUZZ_CHECK(!check_jwt_svid(token.substr(0, last_dot), audience, now));
  FUZZ_CHECK(!check_jwt_svid(token.substr(0, last_dot + 1), audience, now));

  // alg "none".
  const auto header = unb64url(token.substr(0, first_dot));
  FUZZ_CHECK(header.has_value());
  boost::system::error_code ec;
  auto json = boost::json::parse(*header, ec);
  FUZZ_CHECK(!ec && json.is_object());
  json.get_object()["alg"] = "none";
  const std::string unsigned_token = b64url(boost::json::serialize(json)) + token.substr(first_dot);
  FUZZ_CHECK(!check_jwt_svid(unsigned_token, audience, now));

  // Another signature of the same length: the same claims.
  std::string other = token;
  for (std::size_t i = last_dot + 1; i < other.size(); ++i) other[i] = other[i] == 'A' ? 'B' : 'A';
  if ((other.size() - last_dot - 1) % 4 != 1) {
    const auto again = check_jwt_svid(other, audience, now);
    FUZZ_CHECK(again && again->subject == claims->subject && again->expiry == claims->expiry &&
               again->audience == claims->audience);
  }
  return 0;
}
