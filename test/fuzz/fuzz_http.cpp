// The HTTP response reader (net/http_parse.hpp, what exchange() reads with). Input: a byte for
// the read size, then what the peer sent before closing. Properties:
//  - whether a response is read, and what it is, doesn't depend on how the bytes were split
//    into reads (which error may: Beast checks a header line once it is complete, so a bad line
//    in a header cut short is "bad field" when it arrived in one read, "partial message" when
//    the read that completed it never came);
//  - a response read has a status in 100..599 and a body within the limit; written back with a
//    Content-Length it reads back the same; one byte less of limit refuses its body;
//  - errors are classified: parse errors and the body limit are errc::protocol, an early close
//    errc::network.

#include <string>

#include "fuzz.hpp"
#include "net/http_parse.hpp"

namespace {

constexpr std::size_t kLimit = 64 * 1024;

bool same(const awh::Result<awh::net::HttpResponse>& a,
          const awh::Result<awh::net::HttpResponse>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  return a->status == b->status && a->headers == b->headers && a->body == b->body;
}

bool framing(std::string_view name) {
  auto lower = std::string(name);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "content-length" || lower == "transfer-encoding";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using awh::net::parse_response;
  const auto f = awh::fuzz::fields(data, size, 2);
  const std::size_t piece = awh::fuzz::small(f[0]) % 64 + 1;
  const auto whole = parse_response(f[1], kLimit);
  FUZZ_CHECK(same(whole, parse_response(f[1], kLimit, piece)));
  if (!whole) {
    const auto cls = whole.error().cls;
    FUZZ_CHECK(cls == awh::errc::protocol || cls == awh::errc::network);
    return 0;
  }
  FUZZ_CHECK(whole->status >= 100 && whole->status <= 599);
  FUZZ_CHECK(whole->body.size() <= kLimit);

  const unsigned s = whole->status;
  const bool bodiless = s < 200 || s == 204 || s == 304;
  std::string again = "HTTP/1.1 " + std::to_string(s) + " X\r\n";
  awh::net::HttpResponse want = *whole;
  want.headers.clear();
  for (const auto& [name, value] : whole->headers) {
    if (framing(name)) continue;
    again += name + ": " + value + "\r\n";
    want.headers.emplace_back(name, value);
  }
  if (!bodiless) {
    again += "Content-Length: " + std::to_string(whole->body.size()) + "\r\n";
    want.headers.emplace_back("Content-Length", std::to_string(whole->body.size()));
  }
  again += "\r\n";
  if (!bodiless) again += whole->body;
  const auto back = parse_response(again, kLimit);
  FUZZ_CHECK(back.has_value());
  FUZZ_CHECK(back->status == want.status && back->headers == want.headers &&
             back->body == (bodiless ? "" : whole->body));
  if (!bodiless && !whole->body.empty()) {
    const auto over = parse_response(again, whole->body.size() - 1);
    FUZZ_CHECK(!over && over.error().cls == awh::errc::protocol);
  }
  return 0;
}
