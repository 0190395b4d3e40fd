#include "spiffe/svid.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "util/time.hpp"

namespace awh::spiffe {
namespace {

// What selection looks at, whatever the SVID's kind. Borrowed from the SVIDs.
struct Labels {
  std::string_view spiffe_id;
  std::string_view hint;
};

// The first SVID matching every given selector; with none, the first SVID (the
// Workload API's default identity, SPIFFE Workload API §5.2).
Result<std::size_t> select_by_labels(const std::vector<Labels>& svids, const Selector& selector) {
  if (svids.empty()) return make_error(errc::not_found, "the Workload API returned no SVID");
  for (std::size_t i = 0; i < svids.size(); ++i) {
    if (selector.hint && svids[i].hint != *selector.hint) continue;
    if (selector.spiffe_id && svids[i].spiffe_id != *selector.spiffe_id) continue;
    return i;
  }
  std::string wanted;
  if (selector.spiffe_id) wanted += fmt::format("SPIFFE ID {}", *selector.spiffe_id);
  if (selector.hint) {
    wanted += fmt::format("{}hint '{}'", wanted.empty() ? "" : " and ", *selector.hint);
  }
  std::string available;
  for (const auto& s : svids) {
    if (!available.empty()) available += ", ";
    available += s.hint.empty() ? std::string(s.spiffe_id)
                                : fmt::format("{} (hint '{}')", s.spiffe_id, s.hint);
  }
  return make_error(errc::not_found,
                    fmt::format("no SVID matches {}; available: {}", wanted, available));
}

template <class Svid>
std::vector<Labels> labels_of(const std::vector<Svid>& svids) {
  std::vector<Labels> labels;
  labels.reserve(svids.size());
  for (const auto& s : svids) labels.push_back({s.spiffe_id, s.hint});
  return labels;
}

}  // namespace

bool valid_spiffe_id(std::string_view id) {
  // SPIFFE ID §2: scheme "spiffe", a trust domain of [a-z0-9.-_], a path of segments of
  // [A-Za-z0-9.-_], no query/fragment/port/user-info, no empty, "." or ".." segment.
  constexpr std::string_view kScheme = "spiffe://";
  if (id.rfind(kScheme, 0) != 0 || id.size() > 2048) return false;
  const auto rest = id.substr(kScheme.size());
  const auto slash = rest.find('/');
  const auto td = rest.substr(0, slash);
  if (td.empty() || !std::all_of(td.begin(), td.end(), [](unsigned char c) {
        return std::islower(c) || std::isdigit(c) || c == '.' || c == '-' || c == '_';
      })) {
    return false;
  }
  if (slash == std::string_view::npos) return true;
  auto path = rest.substr(slash);
  while (!path.empty()) {
    path.remove_prefix(1);  // the '/'
    const auto next = path.find('/');
    const auto segment = path.substr(0, next);
    if (segment.empty() || segment == "." || segment == "..") return false;
    if (!std::all_of(segment.begin(), segment.end(), [](unsigned char c) {
          return std::isalnum(c) || c == '.' || c == '-' || c == '_';
        })) {
      return false;
    }
    path = next == std::string_view::npos ? std::string_view{} : path.substr(next);
  }
  return true;
}

Result<X509Svid> parse_x509_svid(const RawX509Svid& raw) {
  auto fail = [&](std::string why) {
    return make_error(errc::invalid_input, fmt::format("X.509-SVID {}: {}", raw.spiffe_id, why));
  };
  if (!valid_spiffe_id(raw.spiffe_id)) return fail("not a valid SPIFFE ID");
  auto chain = crypto::parse_der_chain(raw.cert_chain_der);
  if (!chain) return fail(chain.error().message);
  auto key = crypto::parse_pkcs8_der(raw.key_der);
  if (!key) return fail(key.error().message);
  auto type = crypto::signing_key_type(key->get());
  if (!type) return fail(type.error().message);
  X509* leaf = chain->front().get();
  if (!crypto::key_matches_cert(leaf, key->get())) {
    return fail("the private key does not match the leaf certificate");
  }
  const auto uris = crypto::uri_sans(leaf);
  if (uris.size() != 1 || uris.front() != raw.spiffe_id) {
    return fail("the leaf certificate's URI SAN does not match the SPIFFE ID");
  }
  X509Svid svid;
  svid.spiffe_id = raw.spiffe_id;
  svid.hint = raw.hint;
  svid.leaf_der = crypto::cert_der(leaf);
  for (std::size_t i = 1; i < chain->size(); ++i) {
    svid.intermediates_der.push_back(crypto::cert_der((*chain)[i].get()));
  }
  svid.key = std::move(*key);
  svid.key_type = *type;
  svid.serial_decimal = crypto::serial_decimal(leaf);
  if (svid.serial_decimal.empty() || svid.serial_decimal.front() == '-') {
    return fail("the leaf certificate has no usable serial number");
  }
  svid.not_after = crypto::not_after(leaf);
  svid.not_before = crypto::not_before(leaf);
  svid.is_ca = crypto::is_ca(leaf);
  return svid;
}

Result<void> check_signing_leaf(const X509Svid& svid, std::chrono::system_clock::time_point now) {
  const auto fail = [&](std::string why) {
    return make_error(errc::invalid_input,
                      fmt::format("the X.509-SVID {} (serial {}) {}; not signing with it",
                                  svid.spiffe_id, svid.serial_decimal, why));
  };
  if (svid.is_ca) return fail("is a CA certificate (basicConstraints CA:TRUE)");
  if (now >= svid.not_after) {
    return fail(fmt::format("expired at {}", util::format_rfc3339(svid.not_after)));
  }
  if (now < svid.not_before) {
    return fail(fmt::format("is not valid before {}", util::format_rfc3339(svid.not_before)));
  }
  return {};
}

Result<std::size_t> select_svid(const std::vector<RawX509Svid>& svids, const Selector& selector) {
  return select_by_labels(labels_of(svids), selector);
}

Result<std::size_t> select_jwt_svid(const std::vector<RawJwtSvid>& svids,
                                    const Selector& selector) {
  return select_by_labels(labels_of(svids), selector);
}

}  // namespace awh::spiffe
