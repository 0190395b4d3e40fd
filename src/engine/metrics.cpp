#include "engine/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace awh::engine {
namespace {

constexpr std::string_view kPrefix = "aws_spiffe_workload_helper_";

// Label values: backslash, double quote and line feed escaped (exposition format).
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

double seconds_since_epoch(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

void gauge_time(std::string& out, std::string_view name, std::string_view help,
                const std::optional<std::chrono::system_clock::time_point>& t) {
  out += fmt::format("# HELP {0}{1} {2}\n# TYPE {0}{1} gauge\n", kPrefix, name, help);
  if (t) out += fmt::format("{}{} {:.3f}\n", kPrefix, name, seconds_since_epoch(*t));
}

}  // namespace

void Histogram::observe(double value) {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  if (it != bounds_.end()) ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  sum_ += value;
  ++count_;
}

void Histogram::add(const Histogram& other) {
  if (other.bounds_ != bounds_) return;
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  sum_ += other.sum_;
  count_ += other.count_;
}

Metrics combine(const std::vector<const Metrics*>& parts) {
  Metrics out;
  bool first = true;
  // The earliest of the parts' times, unset if any part's is.
  const auto earliest = [&](std::optional<Metrics::WallTime>& into,
                            const std::optional<Metrics::WallTime>& part) {
    if (first) {
      into = part;
    } else if (!into || !part) {
      into.reset();
    } else {
      into = std::min(*into, *part);
    }
  };
  for (const Metrics* m : parts) {
    for (const auto& [key, n] : m->exchanges) out.exchanges[key] += n;
    for (const auto& [key, n] : m->requests) out.requests[key] += n;
    earliest(out.credentials_expiry, m->credentials_expiry);
    earliest(out.svid_expiry, m->svid_expiry);
    if (m->last_success && (!out.last_success || *m->last_success > *out.last_success)) {
      out.last_success = m->last_success;
    }
    out.last_delivery_ok = out.last_delivery_ok && m->last_delivery_ok;
    out.reconnects += m->reconnects;
    out.exchange_seconds.add(m->exchange_seconds);
    first = false;
  }
  return out;
}

std::string render_prometheus(const Metrics& m, std::string_view version,
                              std::string_view command) {
  std::string out;
  out += fmt::format(
      "# HELP {0}build_info The build and the command running.\n# TYPE {0}build_info gauge\n"
      "{0}build_info{{version=\"{1}\",command=\"{2}\"}} 1\n",
      kPrefix, label(version), label(command));
  out += fmt::format(
      "# HELP {0}exchanges_total Credential exchanges by result and error class.\n"
      "# TYPE {0}exchanges_total counter\n",
      kPrefix);
  for (const auto& [key, n] : m.exchanges) {
    out += fmt::format("{}exchanges_total{{result=\"{}\",class=\"{}\"}} {}\n", kPrefix,
                       label(key.first), label(key.second), n);
  }
  gauge_time(out, "credentials_expiry_timestamp_seconds", "When the current credentials expire.",
             m.credentials_expiry);
  gauge_time(out, "svid_expiry_timestamp_seconds", "When the SVID last used expires.",
             m.svid_expiry);
  gauge_time(out, "last_success_timestamp_seconds", "When the last exchange succeeded.",
             m.last_success);
  out += fmt::format(
      "# HELP {0}workload_api_reconnects_total Workload API streams lost and reopened.\n"
      "# TYPE {0}workload_api_reconnects_total counter\n{0}workload_api_reconnects_total {1}\n",
      kPrefix, m.reconnects);
  out += fmt::format(
      "# HELP {0}exchange_duration_seconds How long an exchange took, retries included.\n"
      "# TYPE {0}exchange_duration_seconds histogram\n",
      kPrefix);
  std::uint64_t cumulative = 0;
  const auto& h = m.exchange_seconds;
  for (std::size_t i = 0; i < h.bounds().size(); ++i) {
    cumulative += h.counts()[i];
    out += fmt::format("{}exchange_duration_seconds_bucket{{le=\"{}\"}} {}\n", kPrefix,
                       number(h.bounds()[i]), cumulative);
  }
  out += fmt::format(
      "{0}exchange_duration_seconds_bucket{{le=\"+Inf\"}} {1}\n"
      "{0}exchange_duration_seconds_sum {2}\n{0}exchange_duration_seconds_count {1}\n",
      kPrefix, h.count(), number(h.sum()));
  out += fmt::format(
      "# HELP {0}http_requests_total Requests answered by route and status.\n"
      "# TYPE {0}http_requests_total counter\n",
      kPrefix);
  for (const auto& [key, n] : m.requests) {
    out += fmt::format("{}http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", kPrefix,
                       label(key.first), key.second, n);
  }
  return out;
}

}  // namespace awh::engine
