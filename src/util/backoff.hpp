#pragma once
// Exponential backoff with jitter. Pure: the caller supplies the attempt number and a uniform
// random number in [0, 1), so tests can drive it exactly.

#include <chrono>
#include <random>

namespace awh::util {

struct BackoffPolicy {
  std::chrono::milliseconds initial{200};
  std::chrono::milliseconds max{5000};
};

// Delay before retry number `attempt` (0 for the first retry): base = min(max, initial *
// 2^attempt), then "equal jitter" — base/2 plus a uniform share of base/2 — so retries spread out
// but never collapse to zero.
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt, double uniform01);

// A process-wide random source for jitter (not for anything secret).
double random_uniform01();

}  // namespace awh::util
