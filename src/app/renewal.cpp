#include "app/renewal.hpp"

#include <algorithm>

namespace awh::app {

using std::chrono::milliseconds;

milliseconds renewal_delay(std::chrono::system_clock::time_point now,
                           std::chrono::system_clock::time_point expiration, double u01,
                           const RenewalPolicy& policy) {
  const auto remaining = std::chrono::duration_cast<milliseconds>(expiration - now);
  if (remaining <= milliseconds(0)) return policy.floor;
  const auto half = remaining / 2;
  const auto early = milliseconds(static_cast<milliseconds::rep>(
      static_cast<double>(half.count()) * policy.jitter * std::clamp(u01, 0.0, 1.0)));
  return std::max(half - early, policy.floor);
}

bool nearly_expired(std::chrono::system_clock::time_point now, std::chrono::system_clock::time_point expiration,
                    const RenewalPolicy& policy) {
  return expiration - now < policy.floor;
}

milliseconds retry_delay(int failures, double u01, const RenewalPolicy& policy) {
  return util::backoff_delay(policy.failure, std::max(failures - 1, 0), u01);
}

}  // namespace awh::app
