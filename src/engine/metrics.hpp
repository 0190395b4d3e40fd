#pragma once
// What the engine and the endpoint count, and its Prometheus text exposition (format 0.0.4,
// written by hand: Debian has no maintained C++ client library). Pure; updated on the
// io_context's thread only.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace awh::engine {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds)
      : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}
  void observe(double value);
  // Adds another histogram's observations (the same bounds; a different one is ignored).
  void add(const Histogram& other);
  const std::vector<double>& bounds() const { return bounds_; }
  const std::vector<std::uint64_t>& counts() const {
    return counts_;
  }  // per bucket, not cumulative
  double sum() const { return sum_; }
  std::uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

struct Metrics {
  using WallTime = std::chrono::system_clock::time_point;
  // Exchanges by result ("success", "failure") and error class ("" on success).
  std::map<std::pair<std::string, std::string>, std::uint64_t> exchanges;
  std::optional<WallTime> credentials_expiry;
  std::optional<WallTime> svid_expiry;  // the X.509-SVID's NotAfter, or the JWT-SVID's exp
  std::optional<WallTime> last_success;
  bool last_delivery_ok = true;  // false while the last attempt failed to write an output
  std::uint64_t reconnects = 0;  // Workload API streams lost and reopened
  Histogram exchange_seconds{{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
  // Requests served by route and status (the endpoints).
  std::map<std::pair<std::string, unsigned>, std::uint64_t> requests;
};

// Several engines' metrics as one (--config: one endpoint for every exchange): counters and
// histograms summed; the expiries the earliest, and unset while any part's is unset, so that
// readiness (serve/routes.hpp) means every exchange has credentials; the last success the
// latest; the last delivery ok only when every part's was.
Metrics combine(const std::vector<const Metrics*>& parts);

// The whole exposition, metric names prefixed `aws_spiffe_workload_helper_`.
std::string render_prometheus(const Metrics& m, std::string_view version, std::string_view command);

}  // namespace awh::engine
