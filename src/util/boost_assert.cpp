// Boost's assertion handler for builds with assertions on (the sanitizer and fuzz builds; release
// builds define NDEBUG and have none). meson.build defines BOOST_ENABLE_ASSERT_DEBUG_HANDLER there,
// so BOOST_ASSERT calls this instead of assert().
//
// One assertion of Beast 1.81 is wrong and let through: basic_parser::parse_chunk_header asserts
// `n >= 5` when it resumes the final chunk after asking for more bytes, but a valid last chunk
// that arrives as "0\r\n", "\r", "\n" reaches that point with 3 or 4 bytes, and the code after
// the assertion handles it (it asks for more again). Upstream relaxed the assertion (boostorg/beast
// pull request 2861, in Boost 1.86). Every other assertion aborts as assert() would.

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace boost {

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  if (std::string_view(expr) == "n >= 5" && std::string_view(file).ends_with("basic_parser.ipp")) {
    return;
  }
  std::fprintf(stderr, "%s:%ld: %s: Assertion '%s' failed.\n", file, line, function, expr);
  std::abort();
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file,
                          long line) {
  std::fprintf(stderr, "%s:%ld: %s: Assertion '%s' failed: %s\n", file, line, function, expr, msg);
  std::abort();
}

}  // namespace boost
