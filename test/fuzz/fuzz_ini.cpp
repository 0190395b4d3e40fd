// The credentials-file editor (creds/ini.hpp). Input: the existing file, the profile name and the
// three values. Whenever upsert_profile succeeds:
//  - the result parses (check_parseable, and the independent reader below, which follows
//    configparser's line rules as ini.hpp states them);
//  - in the sections named `profile` each of our three keys appears once, with its value;
//  - every line outside those sections is kept, in order;
//  - upserting the same values again changes nothing, and upserting other values gives what
//    upserting them into the original file gives (no trace of the first edit).
// When it fails, the file doesn't parse or the arguments are invalid.

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "creds/ini.hpp"
#include "fuzz.hpp"

namespace {

constexpr std::string_view kSpace = " \t\v\f";
constexpr std::string_view kKeys[] = {"aws_access_key_id", "aws_secret_access_key",
                                      "aws_session_token"};

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

struct Reading {
  std::vector<std::vector<std::string>> values{3};  // our keys in sections named `profile`
  std::vector<std::string_view> outside;            // lines outside those sections
};

// configparser's classification (ini.hpp, "Grammar"), written again from the description.
std::optional<Reading> read(std::string_view text, std::string_view profile) {
  Reading r;
  std::optional<std::string> section;
  std::optional<std::size_t> key_indent;
  std::string* last_value = nullptr;
  for (std::string_view line : lines_of(text)) {
    const bool in_profile = section && *section == profile;
    const std::string_view t = trim(line);
    const std::size_t indent = line.find_first_not_of(kSpace);
    if (t.empty() || t.front() == '#' || t.front() == ';') {
      if (!in_profile) r.outside.push_back(line);
      continue;
    }
    if (key_indent && indent > *key_indent) {  // a continuation line
      if (last_value) *last_value += "\n" + std::string(t);
      if (!in_profile) r.outside.push_back(line);
      continue;
    }
    if (t.front() == '[' && t.back() == ']') {
      section = std::string(trim(t.substr(1, t.size() - 2)));
      key_indent.reset();
      last_value = nullptr;
      if (*section != profile) r.outside.push_back(line);
      continue;
    }
    const auto sep = t.find_first_of("=:");
    if (!section || sep == std::string_view::npos) return std::nullopt;
    std::string key(trim(t.substr(0, sep)));
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    key_indent = indent;
    last_value = nullptr;
    for (std::size_t k = 0; k < 3; ++k) {
      if (in_profile && key == kKeys[k]) {
        r.values[k].emplace_back(trim(t.substr(sep + 1)));
        last_value = &r.values[k].back();
      }
    }
    if (!in_profile) r.outside.push_back(line);
  }
  return r;
}

bool subsequence(const std::vector<std::string_view>& part,
                 const std::vector<std::string_view>& whole) {
  std::size_t i = 0;
  for (std::string_view line : whole) {
    if (i < part.size() && part[i] == line) ++i;
  }
  return i == part.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const auto f = awh::fuzz::fields(data, size, 5);
  const std::string_view existing = f[0], profile = f[1];
  awh::creds::Credentials c;
  c.access_key_id = f[2];
  c.secret_access_key = f[3];
  c.session_token = f[4];
  const auto out = awh::creds::upsert_profile(existing, profile, c);
  if (!out) {
    FUZZ_CHECK(!awh::creds::check_parseable(existing) || !awh::creds::validate_entry(profile, c));
    return 0;
  }
  FUZZ_CHECK(awh::creds::validate_entry(profile, c).has_value());
  FUZZ_CHECK(awh::creds::check_parseable(*out).has_value());
  const auto reading = read(*out, profile);
  FUZZ_CHECK(reading.has_value());
  const std::string* want[] = {&c.access_key_id, &c.secret_access_key, &c.session_token};
  for (std::size_t k = 0; k < 3; ++k) {
    FUZZ_CHECK(reading->values[k].size() == 1);
    FUZZ_CHECK(reading->values[k].front() == *want[k]);
  }
  if (const auto before = read(existing, profile)) {
    FUZZ_CHECK(subsequence(before->outside, reading->outside));
  }

  const auto same = awh::creds::upsert_profile(*out, profile, c);
  FUZZ_CHECK(same && *same == *out);
  awh::creds::Credentials other = c;
  other.access_key_id += "2";
  other.secret_access_key += "2";
  other.session_token += "2";
  const auto direct = awh::creds::upsert_profile(existing, profile, other);
  const auto via = awh::creds::upsert_profile(*out, profile, other);
  FUZZ_CHECK(direct && via && *direct == *via);
  if (existing.empty()) FUZZ_CHECK(*out == awh::creds::render_profile(profile, c));
  return 0;
}
