#include "util/text.hpp"

#include <fmt/format.h>

namespace awh::util {

std::string escape_text(std::string_view text, std::size_t max, Bytes bytes) {
  const bool cut = text.size() > max;
  if (cut) text = text.substr(0, max);
  std::string out;
  out.reserve(text.size() + (cut ? 3 : 0));
  for (const unsigned char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && bytes == Bytes::ascii)) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (cut) out += "...";
  return out;
}

}  // namespace awh::util
