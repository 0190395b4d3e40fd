#include <doctest/doctest.h>

#include "util/backoff.hpp"

using awh::util::backoff_delay;
using awh::util::BackoffPolicy;
using std::chrono::milliseconds;

TEST_CASE("backoff doubles from the initial delay up to the cap, with equal jitter") {
  const BackoffPolicy p{milliseconds(100), milliseconds(1000)};
  CHECK(backoff_delay(p, 0, 0.0) == milliseconds(50));
  CHECK(backoff_delay(p, 0, 1.0) == milliseconds(100));
  CHECK(backoff_delay(p, 1, 0.0) == milliseconds(100));
  CHECK(backoff_delay(p, 2, 0.5) == milliseconds(300));
  CHECK(backoff_delay(p, 3, 1.0) == milliseconds(800));
  CHECK(backoff_delay(p, 4, 1.0) == milliseconds(1000));
  CHECK(backoff_delay(p, 1000, 1.0) == milliseconds(1000));
  CHECK(backoff_delay(p, 1000, 0.0) == milliseconds(500));
}

TEST_CASE("jitter stays within [base/2, base] and the random source is in [0,1)") {
  const BackoffPolicy p{milliseconds(200), milliseconds(5000)};
  for (int i = 0; i < 200; ++i) {
    const double u = awh::util::random_uniform01();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    const auto d = backoff_delay(p, 2, u);
    CHECK(d >= milliseconds(400));
    CHECK(d <= milliseconds(800));
  }
}
