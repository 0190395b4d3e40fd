#include "util/backoff.hpp"

#include <algorithm>

namespace awh::util {

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt,
                                        double uniform01) {
  using std::chrono::milliseconds;
  const auto max = std::max(policy.max.count(), milliseconds::rep{1});
  auto base = std::max(policy.initial.count(), milliseconds::rep{1});
  for (int i = 0; i < attempt && base < max; ++i) base *= 2;
  base = std::min(base, max);
  const double u = std::clamp(uniform01, 0.0, 1.0);
  const auto half = base / 2;
  return milliseconds(half + static_cast<milliseconds::rep>(static_cast<double>(base - half) * u));
}

double random_uniform01() {
  static thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

}  // namespace awh::util
