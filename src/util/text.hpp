#pragma once
// Text from outside (a peer's error message, a claim, a path) made safe for one log line. Pure.

#include <cstddef>
#include <string>
#include <string_view>

namespace awh::util {

// How long a peer's message may get in our messages before it is cut ("...").
inline constexpr std::size_t kMaxPeerText = 500;

enum class Bytes {
  utf8,   // bytes >= 0x80 pass through (our own messages: paths, IDs)
  ascii,  // bytes >= 0x80 are escaped too (a peer's text, whose encoding we can't trust)
};

// Escapes what could forge a log line or drive a terminal: "\n" becomes `\n`, every other
// control byte and DEL becomes `\xNN` (and, with Bytes::ascii, every byte >= 0x80). At most
// `max` input bytes are kept; a longer text ends in "...".
std::string escape_text(std::string_view text, std::size_t max = std::string_view::npos,
                        Bytes bytes = Bytes::utf8);

}  // namespace awh::util
