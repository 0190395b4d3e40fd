// RFC 3339 times (util/time.hpp): whatever parses formats to text that parses back to the same
// instant (to the second), and canonical text is a fixed point of parse then format.

#include <chrono>
#include <string>

#include "fuzz.hpp"
#include "util/time.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace std::chrono;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto t = awh::util::parse_rfc3339(text);
  if (!t) {
    FUZZ_CHECK(!t.error().message.empty());
    return 0;
  }
  const std::string formatted = awh::util::format_rfc3339(*t);
  const auto again = awh::util::parse_rfc3339(formatted);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == floor<seconds>(*t));
  FUZZ_CHECK(awh::util::format_rfc3339(*again) == formatted);
  // Canonical text (what format_rfc3339 writes) is read back exactly.
  if (text == formatted) FUZZ_CHECK(*t == *again);
  return 0;
}
