#pragma once
// When the daemon renews (design.md §3, "Renewal"). Pure: the clock reading and the random
// draw are parameters, so the math is unit-tested without waiting.

#include <chrono>

#include "util/backoff.hpp"

namespace awh::app {

struct RenewalPolicy {
  // Never sooner than this after an exchange, so an expiration that is already past (or skewed)
  // can't make a hot loop.
  std::chrono::milliseconds floor{1000};
  // Renew up to this fraction of the half-life earlier, so a fleet doesn't renew in lock-step.
  double jitter = 0.1;
  // After failures: exponential, equal jitter, capped.
  util::BackoffPolicy failure{std::chrono::seconds(1), std::chrono::seconds(60)};
};

// After a successful exchange at `now` of credentials that expire at `expiration`: half the
// remaining lifetime, minus a random part (u01 in [0,1)) of `jitter` of it, at least `floor`.
std::chrono::milliseconds renewal_delay(std::chrono::system_clock::time_point now,
                                        std::chrono::system_clock::time_point expiration, double u01,
                                        const RenewalPolicy& policy = {});

// Credentials that arrive with less than a floor of life left: the clock is off or the
// service misbehaves. The daemon treats them as a failed renewal (backing off) but still writes them.
bool nearly_expired(std::chrono::system_clock::time_point now, std::chrono::system_clock::time_point expiration,
                    const RenewalPolicy& policy = {});

// Before the next attempt after `failures` consecutive failures (1 = the first).
std::chrono::milliseconds retry_delay(int failures, double u01, const RenewalPolicy& policy = {});

}  // namespace awh::app
