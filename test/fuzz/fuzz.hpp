#pragma once
// Shared by the libFuzzer targets (test/fuzz/meson.build): a property check that stops the run
// (libFuzzer then saves the input as crash-*), and splitting one input into fields.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "net/http.hpp"
#include "util/error.hpp"

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

// An AWS answer from a status byte and a body: mostly `success` (the success path), else
// 100..599.
inline net::HttpResponse aws_response(std::string_view status_byte, std::string_view body,
                                      unsigned success, const char* content_type) {
  net::HttpResponse response;
  const unsigned code = status_byte.empty() ? 0 : static_cast<unsigned char>(status_byte.front());
  response.status = code < 128 ? success : 100 + code * 2;
  response.headers.emplace_back("Content-Type", content_type);
  response.body = std::string(body);
  return response;
}

// An error is one bounded line, without control characters.
inline void check_error_line(const Error& e) {
  FUZZ_CHECK(!e.message.empty() && e.message.size() <= 2048);
  for (unsigned char c : e.message) FUZZ_CHECK(c >= 0x20 && c != 0x7f);
}

// A small number from a field (its first byte), for choices and offsets.
inline unsigned small(std::string_view field) {
  return field.empty() ? 0 : static_cast<unsigned char>(field.front());
}

}  // namespace awh::fuzz
