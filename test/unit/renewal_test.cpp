#include <doctest/doctest.h>

#include "app/renewal.hpp"
#include "util/time.hpp"

using namespace std::chrono;
using awh::app::nearly_expired;
using awh::app::renewal_delay;
using awh::app::retry_delay;
using awh::app::RenewalPolicy;
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

  for (const char* bad : {"", "2026-11-24", "2026-11-24T13:00:00", "2026-11-24T13:00Z", "2026-13-01T00:00:00Z",
                          "2026-02-30T00:00:00Z", "2026-11-24T24:00:00Z", "2026-11-24T13:00:00.Z",
                          "2026-11-24T13:00:00+0100", "2026-11-24T13:00:00Zjunk", "26-11-24T13:00:00Z",
                          "2026-11-24X13:00:00Z", "1795525200"}) {
    CAPTURE(bad);
    auto r = parse_rfc3339(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("is not an RFC 3339 time") != std::string::npos);
  }
}

TEST_CASE("renewal at half the remaining lifetime, jittered earlier, never below the floor") {
  const auto now = at("2026-11-24T12:00:00Z");
  const RenewalPolicy policy;  // floor 1 s, jitter 10 %
  // One hour left: half is 30 min; the jitter takes up to 10 % of that off.
  CHECK(renewal_delay(now, now + hours(1), 0.0, policy) == minutes(30));
  CHECK(renewal_delay(now, now + hours(1), 0.5, policy) == minutes(30) - seconds(90));
  CHECK(renewal_delay(now, now + hours(1), 0.999999, policy) > minutes(27) - milliseconds(10));
  for (double u = 0.0; u < 1.0; u += 0.05) {
    const auto d = renewal_delay(now, now + seconds(900), u, policy);
    CHECK(d <= seconds(450));
    CHECK(d >= seconds(405));
  }
  // Short lifetimes (tests use a few seconds): still half-life.
  CHECK(renewal_delay(now, now + seconds(4), 0.0, policy) == seconds(2));
  // Past, present or nearly-past expirations: the floor, never zero.
  CHECK(renewal_delay(now, now - hours(5), 0.3, policy) == seconds(1));
  CHECK(renewal_delay(now, now, 0.3, policy) == seconds(1));
  CHECK(renewal_delay(now, now + milliseconds(1500), 0.0, policy) == seconds(1));
  // A custom floor.
  CHECK(renewal_delay(now, now - hours(1), 0.0, RenewalPolicy{seconds(30)}) == seconds(30));
}

TEST_CASE("credentials that arrive (nearly) expired are flagged") {
  const auto now = at("2026-11-24T12:00:00Z");
  CHECK(nearly_expired(now, now - seconds(1)));
  CHECK(nearly_expired(now, now + milliseconds(999)));
  CHECK_FALSE(nearly_expired(now, now + seconds(1)));
  CHECK(nearly_expired(now, now + seconds(20), RenewalPolicy{seconds(30)}));
  CHECK_FALSE(nearly_expired(now, now + hours(1)));
}

TEST_CASE("retries after failures back off exponentially up to the cap") {
  const RenewalPolicy policy;  // 1 s doubling to 60 s, equal jitter
  CHECK(retry_delay(1, 0.0, policy) == milliseconds(500));
  CHECK(retry_delay(1, 1.0, policy) == seconds(1));
  CHECK(retry_delay(2, 1.0, policy) == seconds(2));
  CHECK(retry_delay(3, 1.0, policy) == seconds(4));
  CHECK(retry_delay(7, 1.0, policy) == seconds(60));
  CHECK(retry_delay(1000, 0.0, policy) == seconds(30));
  CHECK(retry_delay(0, 1.0, policy) == seconds(1));  // defensive: never below the first step
}
