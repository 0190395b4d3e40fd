// Fleet simulation: N sidecars that all start within the same minute, each driven by the real
// renewal state machine (engine/scheduler.hpp) through several hours of renewals. Prints the
// exchanges per minute (what Roles Anywhere or STS sees from the fleet): the peak and mean
// after the first renewal wave, a table and an ASCII plot.
//
//   fleet-sim [--sidecars N] [--hours H] [--lifetime SECONDS] [--first-earliest F] [--seed S]
//
// --first-earliest 0.45 reproduces the policy before the first renewal was spread (every
// renewal at half-life minus up to 10 %).
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "engine/scheduler.hpp"

using namespace std::chrono;
using namespace awh::engine;

namespace {

class SeededRandom final : public Random {
 public:
  explicit SeededRandom(std::uint64_t seed) : engine_(seed) {}
  double uniform01() override { return std::uniform_real_distribution<double>(0.0, 1.0)(engine_); }

 private:
  std::mt19937_64 engine_;
};

struct Pending {
  milliseconds at;
  std::size_t sidecar;
  bool completes;  // an exchange finishing (else a timer firing)
  bool operator>(const Pending& o) const { return at > o.at; }
};

int usage() {
  std::fputs(
      "usage: fleet-sim [--sidecars N] [--hours H] [--lifetime SECONDS] [--first-earliest F] "
      "[--seed S]\n",
      stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t sidecars = 10000;
  int sim_hours = 6;
  long lifetime_s = 3600;
  double first_earliest = RenewalPolicy{}.first_earliest;
  std::uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    const char* v = argv[++i];
    if (a == "--sidecars")
      sidecars = std::strtoul(v, nullptr, 10);
    else if (a == "--hours")
      sim_hours = std::atoi(v);
    else if (a == "--lifetime")
      lifetime_s = std::atol(v);
    else if (a == "--first-earliest")
      first_earliest = std::atof(v);
    else if (a == "--seed")
      seed = std::strtoull(v, nullptr, 10);
    else
      return usage();
  }
  if (sidecars == 0 || sim_hours < 1 || lifetime_s < 900 || first_earliest < 0 ||
      first_earliest > 0.5)
    return usage();

  RenewalPolicy policy;
  policy.first_earliest = first_earliest;
  SeededRandom random(seed);
  std::mt19937_64 noise(seed + 1);
  std::uniform_int_distribution<long> start_ms(0, 59999);     // all start within the first minute
  std::uniform_int_distribution<long> exchange_ms(150, 900);  // one exchange's round trips

  std::vector<Scheduler> fleet;
  fleet.reserve(sidecars);
  const SteadyTime t0{};
  const WallTime w0{};
  auto now_at = [&](milliseconds t) { return Now{t0 + t, w0 + t}; };

  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> queue;
  const auto end = hours(sim_hours);
  const auto minutes_total = static_cast<std::size_t>(duration_cast<minutes>(end).count());
  std::vector<long> per_minute(minutes_total, 0);

  auto act = [&](std::size_t id, const Decision& d, milliseconds t) {
    if (d.exchange) {
      const auto minute = static_cast<std::size_t>(duration_cast<minutes>(t).count());
      if (minute < per_minute.size()) ++per_minute[minute];
      queue.push({t + milliseconds(exchange_ms(noise)), id, true});
    } else if (d.wake_at) {
      queue.push({duration_cast<milliseconds>(*d.wake_at - t0), id, false});
    }
  };
  for (std::size_t i = 0; i < sidecars; ++i) {
    fleet.emplace_back(policy, false, random, "the file");
    const milliseconds t(start_ms(noise));
    act(i, fleet.back().on(event::Started{}, now_at(t)), t);
  }
  while (!queue.empty() && queue.top().at < end) {
    const Pending p = queue.top();
    queue.pop();
    const Decision d =
        p.completes ? fleet[p.sidecar].on(event::Issued{seconds(lifetime_s), "", ""}, now_at(p.at))
                    : fleet[p.sidecar].on(event::Tick{}, now_at(p.at));
    act(p.sidecar, d, p.at);
  }

  // "After the first renewal wave": from the end of the first lifetime on; until the last
  // whole minute.
  const auto from = static_cast<std::size_t>(lifetime_s / 60);
  long peak = 0;
  double sum = 0;
  std::size_t n = 0;
  for (std::size_t m = from; m < per_minute.size(); ++m) {
    peak = std::max(peak, per_minute[m]);
    sum += static_cast<double>(per_minute[m]);
    ++n;
  }
  const double mean = n ? sum / static_cast<double>(n) : 0.0;
  fmt::print(
      "fleet-sim: {} sidecars started within one minute, {} s credentials, {} h, first renewal in "
      "[{:.3f}, 0.5] of the lifetime\n",
      sidecars, lifetime_s, sim_hours, first_earliest);
  fmt::print("exchanges per minute from minute {} on: peak {}, mean {:.1f}, peak/mean {:.2f}\n\n",
             from, peak, mean, mean > 0 ? static_cast<double>(peak) / mean : 0.0);

  // Table and plot: 10-minute windows (the peak minute of each), bars scaled to the overall peak.
  long overall = *std::max_element(per_minute.begin() + 1, per_minute.end());
  fmt::print("| minutes | peak/min | mean/min | plot (peak per minute) |\n|---|---|---|---|\n");
  for (std::size_t m = 0; m < per_minute.size(); m += 10) {
    long wpeak = 0;
    double wsum = 0;
    std::size_t k = 0;
    for (std::size_t j = m; j < std::min(m + 10, per_minute.size()); ++j, ++k) {
      wpeak = std::max(wpeak, per_minute[j]);
      wsum += static_cast<double>(per_minute[j]);
    }
    const auto bar =
        overall > 0
            ? static_cast<std::size_t>(40.0 * static_cast<double>(std::min(wpeak, overall)) /
                                       static_cast<double>(overall))
            : 0;
    fmt::print("| {:>3}-{:<3} | {:>8} | {:>8.1f} | {}{} |\n", m, m + k - 1, wpeak,
               wsum / static_cast<double>(k), std::string(bar, '#'),
               m == 0 ? " (start: every sidecar's first exchange)" : "");
  }
  return 0;
}
