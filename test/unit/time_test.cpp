#include <doctest/doctest.h>

#include "util/time.hpp"

using namespace std::chrono;
using awh::util::format_rfc3339;
using awh::util::parse_rfc3339;

namespace {
system_clock::time_point at(const char* text) { return parse_rfc3339(text).value(); }
}  // namespace

TEST_CASE("RFC 3339 times as AWS sends them") {
  const auto t = at("2026-11-24T13:00:00Z");
  CHECK(format_rfc3339(t) == "2026-11-24T13:00:00Z");
  CHECK(duration_cast<seconds>(t.time_since_epoch()).count() == 1795525200);
  CHECK(at("2026-11-24T13:00:00.250Z") - t == milliseconds(250));
  CHECK(at("2026-11-24T13:00:00.123456789Z") - t == nanoseconds(123456789));
  CHECK(at("2026-11-24T14:30:00+01:30") == t);
  CHECK(at("2026-11-24T11:00:00-02:00") == t);
  CHECK(at("2026-11-24t13:00:00z") == t);
  CHECK(at("2024-02-29T00:00:00Z") - at("2024-02-28T00:00:00Z") == hours(24));
  CHECK(format_rfc3339(at("1999-12-31T23:59:59.999Z")) == "1999-12-31T23:59:59Z");

  for (const char* bad :
       {"", "2026-11-24", "2026-11-24T13:00:00", "2026-11-24T13:00Z", "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z", "2026-11-24T24:00:00Z", "2026-11-24T13:00:00.Z",
        "2026-11-24T13:00:00+0100", "2026-11-24T13:00:00Zjunk", "26-11-24T13:00:00Z",
        "2026-11-24X13:00:00Z", "1795525200"}) {
    CAPTURE(bad);
    auto r = parse_rfc3339(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("is not an RFC 3339 time") != std::string::npos);
  }
}

TEST_CASE("times system_clock can't hold are refused, not overflowed (found by fuzz_time)") {
  // libstdc++'s system_clock counts nanoseconds in 64 bits: 1677-09-21 .. 2262-04-11.
  for (const char* far : {"9999-12-31T23:59:59.999Z", "2300-01-01T00:00:00Z",
                          "0000-01-01T00:00:00+00:01", "1600-01-01T00:00:00Z"}) {
    CAPTURE(far);
    auto r = parse_rfc3339(far);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("out of the supported range") != std::string::npos);
  }
  CHECK(format_rfc3339(at("2262-04-11T00:00:00Z")) == "2262-04-11T00:00:00Z");
  CHECK(format_rfc3339(at("1677-09-22T00:00:00Z")) == "1677-09-22T00:00:00Z");
}
