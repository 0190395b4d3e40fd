#include "creds/ini.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <optional>
#include <vector>

namespace awh::creds {
namespace {

constexpr std::size_t kNoKey = static_cast<std::size_t>(-1);  // no key line yet in this section

constexpr std::array<std::string_view, 3> kKeys = {"aws_access_key_id", "aws_secret_access_key",
                                                   "aws_session_token"};
constexpr std::array<std::string_view, 3> kKeyNames = {"access key ID", "secret access key",
                                                       "session token"};
constexpr std::string_view kSpace = " \t\v\f";
constexpr std::string_view kLineBreakOrNul{"\r\n\0", 3};

std::array<std::string_view, 3> values_of(const Credentials& c) {
  return {c.access_key_id, c.secret_access_key, c.session_token};
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

std::string_view leading_space(std::string_view s) {
  return s.substr(0, std::min(s.find_first_not_of(kSpace), s.size()));
}

bool iequals(std::string_view a, std::string_view b) {
  const auto lower = [](char ch) { return ch >= 'A' && ch <= 'Z' ? char(ch - 'A' + 'a') : ch; };
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [&](char x, char y) { return lower(x) == lower(y); });
}

// Index of `key` in kKeys, or nullopt if it is not one of ours.
std::optional<std::size_t> our_key(std::string_view key) {
  for (std::size_t k = 0; k < kKeys.size(); ++k) {
    if (iequals(key, kKeys[k])) return k;
  }
  return std::nullopt;
}

enum class Kind { blank, comment, continuation, header, key };

struct Line {
  std::string_view text;  // without its ending
  std::string_view eol;   // "\n", "\r\n", or "" (last line only)
  Kind kind = Kind::blank;
  std::string_view name;      // header: the section name; key: the key as written
  std::size_t value_pos = 0;  // key: where the value starts in `text`
};

Error line_error(std::size_t number, std::string_view what) {
  return make_error(errc::invalid_input, fmt::format("line {}: {}", number, what));
}

// Splits `file` into lines and classifies them (grammar in ini.hpp).
Result<std::vector<Line>> parse(std::string_view file) {
  std::vector<Line> lines;
  bool in_section = false;
  std::size_t key_indent = kNoKey;  // of the current section's last key line
  for (std::size_t pos = 0; pos < file.size();) {
    const std::size_t number = lines.size() + 1;
    Line line;
    const auto nl = file.find('\n', pos);
    const auto end = nl == std::string_view::npos ? file.size() : nl;
    line.text = file.substr(pos, end - pos);
    if (nl != std::string_view::npos) {
      const bool crlf = !line.text.empty() && line.text.back() == '\r';
      if (crlf) line.text.remove_suffix(1);
      line.eol = crlf ? "\r\n" : "\n";
    }
    pos = nl == std::string_view::npos ? file.size() : nl + 1;

    if (line.text.find('\0') != std::string_view::npos) return line_error(number, "NUL byte");
    if (line.text.find('\r') != std::string_view::npos) {
      return line_error(number, "carriage return not followed by a line feed");
    }
    const auto trimmed = trim(line.text);
    if (trimmed.empty()) {
      line.kind = Kind::blank;
    } else if (trimmed.front() == '#' || trimmed.front() == ';') {
      line.kind = Kind::comment;
    } else if (key_indent != kNoKey && leading_space(line.text).size() > key_indent) {
      line.kind = Kind::continuation;
    } else if (trimmed.front() == '[') {
      if (trimmed.back() != ']') {  // also a lone '['
        return line_error(number, "section header without a closing ']'");
      }
      line.kind = Kind::header;
      line.name = trim(trimmed.substr(1, trimmed.size() - 2));
      if (line.name.empty()) return line_error(number, "empty section name");
      in_section = true;
      key_indent = kNoKey;
    } else if (!in_section) {
      return line_error(number, "key outside any [section]");
    } else {
      const auto delimiter = line.text.find_first_of("=:");
      if (delimiter == std::string_view::npos) {
        return line_error(number, "expected 'key = value', a [section] header or a comment");
      }
      line.kind = Kind::key;
      line.name = trim(line.text.substr(0, delimiter));
      if (line.name.empty()) return line_error(number, "empty key name");
      line.value_pos =
          std::min(line.text.find_first_not_of(kSpace, delimiter + 1), line.text.size());
      key_indent = leading_space(line.text).size();
    }
    lines.push_back(line);
  }
  return lines;
}

void append_key(std::string& out, std::string_view indent, std::size_t k, std::string_view value,
                std::string_view eol) {
  out.append(indent).append(kKeys[k]).append(" = ").append(value).append(eol);
}

void append_profile(std::string& out, std::string_view profile, const Credentials& c,
                    std::string_view eol) {
  out.append("[").append(profile).append("]").append(eol);
  const auto values = values_of(c);
  for (std::size_t k = 0; k < kKeys.size(); ++k) append_key(out, "", k, values[k], eol);
}

// Room for `existing` plus everything we may add, reserved up front so the buffer holding the
// secrets is never reallocated (a reallocation would leave a copy behind in freed memory).
std::size_t capacity_for(std::string_view existing, std::string_view profile,
                         std::string_view indent, const Credentials& c) {
  std::size_t size = existing.size() + profile.size() + 3 * indent.size() + 128;
  for (auto v : values_of(c)) size += v.size();
  return size;
}

}  // namespace

Result<void> check_profile_name(std::string_view profile) {
  if (profile.empty()) return make_error(errc::invalid_input, "the profile name is empty");
  if (profile.size() > kMaxProfileName) {
    return make_error(errc::invalid_input,
                      fmt::format("the profile name is longer than {} bytes", kMaxProfileName));
  }
  if (trim(profile).size() != profile.size() ||
      std::isspace(static_cast<unsigned char>(profile.front())) ||
      std::isspace(static_cast<unsigned char>(profile.back()))) {
    return make_error(errc::invalid_input, "the profile name has leading or trailing whitespace");
  }
  for (const unsigned char c : profile) {
    if (c == '[' || c == ']' || c < 0x20 || c == 0x7f) {
      return make_error(
          errc::invalid_input,
          "the profile name contains '[', ']', a line break or another control character");
    }
  }
  return {};
}

Result<void> validate_entry(std::string_view profile, const Credentials& c) {
  if (auto name = check_profile_name(profile); !name) return name.error();
  const auto values = values_of(c);
  for (std::size_t k = 0; k < kKeys.size(); ++k) {
    // The messages name the field only: the values are secrets.
    if (values[k].empty()) {
      return make_error(errc::invalid_input, fmt::format("the {} is empty", kKeyNames[k]));
    }
    if (values[k].find_first_of(kLineBreakOrNul) != std::string_view::npos) {
      return make_error(errc::invalid_input,
                        fmt::format("the {} contains a line break or a NUL byte", kKeyNames[k]));
    }
    if (trim(values[k]).size() != values[k].size()) {
      return make_error(errc::invalid_input,
                        fmt::format("the {} has leading or trailing whitespace", kKeyNames[k]));
    }
  }
  return {};
}

Result<std::string> upsert_profile(std::string_view existing, std::string_view profile,
                                   const Credentials& c) {
  if (auto valid = validate_entry(profile, c); !valid) return valid.error();
  auto parsed = parse(existing);
  if (!parsed) return parsed.error();
  const std::vector<Line>& lines = *parsed;
  const std::string_view eol = !lines.empty() && lines.front().eol == "\r\n" ? "\r\n" : "\n";

  // Decide what happens to each line, and where missing keys go.
  enum class Action { keep, replace, remove };
  std::vector<Action> action(lines.size(), Action::keep);
  std::vector<std::size_t> slot(lines.size(), 0);  // replace: which of our keys
  std::optional<std::size_t> target;               // the target section's header line
  std::size_t anchor = 0;                          // missing keys go after this line
  std::optional<std::string_view> anchor_indent;   // of the last kept key line in the target
  std::array<bool, 3> present{};
  enum class Section { other, target, later_duplicate } section = Section::other;
  bool removing_value = false;  // the current key's continuation lines are being removed
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const Line& line = lines[i];
    if (line.kind == Kind::header) {
      removing_value = false;
      section = Section::other;
      if (line.name == profile) {
        section = target ? Section::later_duplicate : Section::target;
        if (!target) target = anchor = i;
      }
    } else if (line.kind == Kind::key) {
      const auto k = our_key(line.name);
      removing_value = section != Section::other && k;
      if (removing_value) {
        const bool first = section == Section::target && !present[*k];
        action[i] = first ? Action::replace : Action::remove;
        slot[i] = *k;
        if (first) present[*k] = true;
      }
      if (section == Section::target && action[i] != Action::remove) {
        anchor = i;
        anchor_indent = leading_space(line.text);
      }
    } else if (line.kind == Kind::continuation) {
      if (removing_value) {
        action[i] = Action::remove;
      } else if (section == Section::target) {
        anchor = i;
      }
    }
  }

  if (!target) {
    std::string out;
    out.reserve(capacity_for(existing, profile, {}, c));
    out.append(existing);
    if (!lines.empty()) {
      if (lines.back().eol.empty()) out.append(eol);
      if (lines.back().kind != Kind::blank) out.append(eol);
    }
    append_profile(out, profile, c, eol);
    return out;
  }

  if (!anchor_indent) {
    // No keys in the section: indent like the next header (a line after the header that is
    // neither blank nor a comment), which then stays a header and not a continuation of ours.
    anchor_indent = std::string_view{};
    for (std::size_t i = anchor + 1; i < lines.size(); ++i) {
      if (lines[i].kind != Kind::blank && lines[i].kind != Kind::comment) {
        anchor_indent = leading_space(lines[i].text);
        break;
      }
    }
  }

  const auto values = values_of(c);
  std::string out;
  out.reserve(capacity_for(existing, profile, *anchor_indent, c));
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const Line& line = lines[i];
    if (action[i] == Action::remove) continue;
    if (action[i] == Action::replace) {
      out.append(line.text.substr(0, line.value_pos)).append(values[slot[i]]).append(line.eol);
    } else {
      out.append(line.text).append(line.eol);
    }
    if (i != anchor || present == std::array{true, true, true}) continue;
    if (line.eol.empty()) out.append(eol);  // the last line, and we add lines after it
    for (std::size_t k = 0; k < kKeys.size(); ++k) {
      if (!present[k]) append_key(out, *anchor_indent, k, values[k], eol);
    }
  }
  return out;
}

std::string render_profile(std::string_view profile, const Credentials& c) {
  std::string out;
  out.reserve(capacity_for({}, profile, {}, c));
  append_profile(out, profile, c, "\n");
  return out;
}

Result<void> check_parseable(std::string_view existing) {
  if (auto parsed = parse(existing); !parsed) return parsed.error();
  return {};
}

}  // namespace awh::creds
