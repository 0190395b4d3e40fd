#pragma once
// Small string checks shared by the parsers (ARNs, URLs, Workload API addresses, CLI numbers).

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>

namespace awh::util {

inline bool all_digits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// A TCP port 1..65535 written in decimal digits only; nullopt otherwise.
inline std::optional<unsigned> parse_port(std::string_view s) {
  if (s.size() > 5 || !all_digits(s)) return std::nullopt;
  unsigned value = 0;
  for (char c : s) value = value * 10 + static_cast<unsigned>(c - '0');
  if (value == 0 || value > 65535) return std::nullopt;
  return value;
}

// ASCII lower case (header names, host names: never locale-dependent).
inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace awh::util
