#include "app/svid_listing.hpp"

#include <fmt/format.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "crypto/openssl.hpp"
#include "spiffe/jwt.hpp"
#include "util/text.hpp"
#include "util/time.hpp"

namespace awh::app {
namespace {

namespace json = boost::json;

// The agent's strings end up on a terminal: escape control characters.
std::string shown(std::string_view s) { return util::escape_text(s, 500); }

std::string time_text(const std::optional<std::chrono::system_clock::time_point>& t) {
  return t ? util::format_rfc3339(*t) : std::string("-");
}

json::value time_json(const std::optional<std::chrono::system_clock::time_point>& t) {
  if (!t) return nullptr;
  return json::string(util::format_rfc3339(*t));
}

json::value text_or_null(const std::string& s) {
  if (s.empty()) return nullptr;
  return json::string(s);
}

// SVID selection (spiffe/svid.hpp) and a sentence saying how it went.
template <class Svid, class Select>
void select(SvidListing<Svid>& out, const Select& result, const spiffe::Selector& selector) {
  if (!result) {
    out.selection = result.error().message;
    return;
  }
  out.selected = *result;
  if (selector.empty()) {
    out.selection =
        "the first SVID (no --hint or --spiffe-id: the Workload API's default identity)";
    return;
  }
  std::string wanted;
  if (selector.spiffe_id) wanted += fmt::format("--spiffe-id {}", *selector.spiffe_id);
  if (selector.hint) {
    wanted += fmt::format("{}--hint '{}'", wanted.empty() ? "" : " ", *selector.hint);
  }
  out.selection = fmt::format("the first SVID matching {}", wanted);
}

std::string header(std::size_t count, std::string_view kind, const std::string& selection,
                   const std::optional<std::size_t>& selected) {
  std::string out =
      fmt::format("{} {}{} from the Workload API\n", count, kind, count == 1 ? "" : "s");
  out += fmt::format("selected: {}{}\n", selected ? fmt::format("[{}], ", *selected) : "none; ",
                     shown(selection));
  return out;
}

void line(std::string& out, std::string_view name, std::string_view value) {
  out += fmt::format("      {:<11} {}\n", name, value);
}

template <class Listing>
json::object json_head(const Listing& listing) {
  json::object o;
  if (listing.selected) {
    o["selected"] = static_cast<std::uint64_t>(*listing.selected);
  } else {
    o["selected"] = nullptr;
  }
  o["selection"] = listing.selection;
  return o;
}

}  // namespace

SvidListing<X509SvidInfo> list_x509_svids(const std::vector<spiffe::RawX509Svid>& svids,
                                          const spiffe::Selector& selector) {
  SvidListing<X509SvidInfo> out;
  for (const auto& raw : svids) {
    X509SvidInfo info;
    info.spiffe_id = raw.spiffe_id;
    info.hint = raw.hint;
    if (auto chain = crypto::parse_der_chain(raw.cert_chain_der)) {
      const X509* leaf = chain->front().get();
      info.serial_decimal = crypto::serial_decimal(leaf);
      info.serial_hex = crypto::serial_hex(leaf);
      info.not_before = crypto::not_before(leaf);
      info.not_after = crypto::not_after(leaf);
      if (const EVP_PKEY* key = X509_get0_pubkey(leaf)) {
        const auto key_info = crypto::describe_key(key);
        info.key_algorithm = key_info.algorithm;
        info.key_bits = key_info.bits;
        info.key_curve = key_info.curve;
      }
      info.chain_length = chain->size();
    }
    if (auto parsed = spiffe::parse_x509_svid(raw); !parsed) info.problem = parsed.error().message;
    out.svids.push_back(std::move(info));
  }
  select(out, spiffe::select_svid(svids, selector), selector);
  return out;
}

SvidListing<JwtSvidInfo> list_jwt_svids(const std::vector<spiffe::RawJwtSvid>& svids,
                                        const spiffe::Selector& selector,
                                        const std::string& audience,
                                        std::chrono::system_clock::time_point now) {
  SvidListing<JwtSvidInfo> out;
  for (const auto& raw : svids) {
    JwtSvidInfo info;
    info.spiffe_id = raw.spiffe_id;
    info.hint = raw.hint;
    const std::string_view token = raw.token.str();
    if (auto parts = spiffe::read_jwt_public_parts(token)) {
      info.subject = parts->subject;
      info.audience = parts->audience;
      info.expiry = parts->expiry;
      info.issued_at = parts->issued_at;
      info.algorithm = parts->algorithm;
      info.key_id = parts->key_id;
    }
    if (auto checked = spiffe::check_jwt_svid(token, audience, now); !checked) {
      info.problem = checked.error().message;
    } else if (checked->subject != raw.spiffe_id) {
      info.problem = fmt::format("the JWT-SVID's subject {} is not its SPIFFE ID {}",
                                 checked->subject, raw.spiffe_id);
    }
    out.svids.push_back(std::move(info));
  }
  select(out, spiffe::select_jwt_svid(svids, selector), selector);
  return out;
}

std::string format_text(const SvidListing<X509SvidInfo>& listing) {
  std::string out = header(listing.svids.size(), "X.509-SVID", listing.selection, listing.selected);
  for (std::size_t i = 0; i < listing.svids.size(); ++i) {
    const auto& s = listing.svids[i];
    out += fmt::format("\n  [{}] {}{}\n", i, shown(s.spiffe_id),
                       listing.selected == i ? "   <- selected" : "");
    line(out, "hint", s.hint.empty() ? "-" : shown(s.hint));
    line(out, "serial",
         s.serial_decimal.empty() ? "-"
                                  : fmt::format("{} (hex {})", s.serial_decimal, s.serial_hex));
    line(out, "not before", time_text(s.not_before));
    line(out, "not after", time_text(s.not_after));
    line(out, "key",
         s.key_algorithm.empty()
             ? "-"
             : fmt::format("{}{} ({} bits)", s.key_algorithm,
                           s.key_curve.empty() ? "" : " " + s.key_curve, s.key_bits));
    line(out, "chain",
         s.chain_length == 0 ? "-"
                             : fmt::format("{} certificate{} (leaf + {} intermediate{})",
                                           s.chain_length, s.chain_length == 1 ? "" : "s",
                                           s.chain_length - 1, s.chain_length == 2 ? "" : "s"));
    if (!s.problem.empty()) line(out, "unusable", shown(s.problem));
  }
  return out;
}

std::string format_text(const SvidListing<JwtSvidInfo>& listing) {
  std::string out = header(listing.svids.size(), "JWT-SVID", listing.selection, listing.selected);
  for (std::size_t i = 0; i < listing.svids.size(); ++i) {
    const auto& s = listing.svids[i];
    out += fmt::format("\n  [{}] {}{}\n", i, shown(s.spiffe_id),
                       listing.selected == i ? "   <- selected" : "");
    line(out, "hint", s.hint.empty() ? "-" : shown(s.hint));
    line(out, "subject", s.subject.empty() ? "-" : shown(s.subject));
    std::string audience;
    for (const auto& a : s.audience) audience += (audience.empty() ? "" : ", ") + shown(a);
    line(out, "audience", audience.empty() ? "-" : audience);
    line(out, "issued at", time_text(s.issued_at));
    line(out, "expires", time_text(s.expiry));
    line(out, "alg", s.algorithm.empty() ? "-" : shown(s.algorithm));
    line(out, "key id", s.key_id.empty() ? "-" : shown(s.key_id));
    if (!s.problem.empty()) line(out, "unusable", shown(s.problem));
  }
  return out;
}

std::string format_json(const SvidListing<X509SvidInfo>& listing) {
  json::object o = json_head(listing);
  json::array svids;
  for (const auto& s : listing.svids) {
    json::object j;
    j["spiffe_id"] = s.spiffe_id;
    j["hint"] = s.hint;
    j["serial"] = text_or_null(s.serial_decimal);
    j["serial_hex"] = text_or_null(s.serial_hex);
    j["not_before"] = time_json(s.not_before);
    j["not_after"] = time_json(s.not_after);
    j["key_type"] = text_or_null(s.key_algorithm);
    if (s.key_bits > 0) {
      j["key_bits"] = s.key_bits;
    } else {
      j["key_bits"] = nullptr;
    }
    j["key_curve"] = text_or_null(s.key_curve);
    j["chain_length"] = static_cast<std::uint64_t>(s.chain_length);
    j["problem"] = text_or_null(s.problem);
    svids.push_back(std::move(j));
  }
  o["svids"] = std::move(svids);
  return json::serialize(o) + "\n";
}

std::string format_json(const SvidListing<JwtSvidInfo>& listing) {
  json::object o = json_head(listing);
  json::array svids;
  for (const auto& s : listing.svids) {
    json::object j;
    j["spiffe_id"] = s.spiffe_id;
    j["hint"] = s.hint;
    j["subject"] = text_or_null(s.subject);
    json::array audience;
    for (const auto& a : s.audience) audience.emplace_back(a);
    j["audience"] = std::move(audience);
    j["issued_at"] = time_json(s.issued_at);
    j["expires"] = time_json(s.expiry);
    j["alg"] = text_or_null(s.algorithm);
    j["kid"] = text_or_null(s.key_id);
    j["problem"] = text_or_null(s.problem);
    svids.push_back(std::move(j));
  }
  o["svids"] = std::move(svids);
  return json::serialize(o) + "\n";
}

}  // namespace awh::app
