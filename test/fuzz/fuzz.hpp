#pragma once
// Shared by the libFuzzer targets (test/fuzz/meson.build): a property check that stops the run
// (libFuzzer then saves the input as crash-*), and splitting one input into fields.

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

// A violated property is a crash: print what failed, then abort (libFuzzer catches SIGABRT).
#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "property violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

namespace awh::fuzz {

// The input as up to `n` fields separated by "\n%%\n" (the last field takes the rest; missing
// fields are empty). Readable seeds: one field per block.
inline std::vector<std::string_view> fields(const unsigned char* data, std::size_t size,
                                            std::size_t n) {
  constexpr std::string_view kSeparator = "\n%%\n";
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> out;
  while (out.size() + 1 < n) {
    const auto at = rest.find(kSeparator);
    if (at == std::string_view::npos) break;
    out.push_back(rest.substr(0, at));
    rest.remove_prefix(at + kSeparator.size());
  }
  out.push_back(rest);
  out.resize(n);
  return out;
}

// A small number from a field (its first byte), for choices and offsets.
inline unsigned small(std::string_view field) {
  return field.empty() ? 0 : static_cast<unsigned char>(field.front());
}

}  // namespace awh::fuzz
