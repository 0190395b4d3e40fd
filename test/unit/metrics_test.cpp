// The Prometheus text exposition, checked line by line.
#include <doctest/doctest.h>

#include "engine/metrics.hpp"
#include "util/time.hpp"

using namespace awh;

namespace {
bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}
}  // namespace

TEST_CASE("metrics: counters, gauges and the histogram in the Prometheus text format") {
  engine::Metrics m;
  ++m.exchanges[{"success", ""}];
  ++m.exchanges[{"success", ""}];
  ++m.exchanges[{"failure", "throttled"}];
  m.credentials_expiry = util::parse_rfc3339("2026-11-29T13:00:00Z").value();
  m.reconnects = 3;
  m.exchange_seconds.observe(0.2);
  m.exchange_seconds.observe(0.7);
  m.exchange_seconds.observe(100);
  ++m.requests[{"credentials", 200}];
  ++m.requests[{"credentials", 401}];
  const auto text = engine::render_prometheus(m, "0.1.0", "x509-\"serve\"");
  const std::string p = "aws_spiffe_workload_helper_";
  CHECK(has_line(text, p + "build_info{version=\"0.1.0\",command=\"x509-\\\"serve\\\"\"} 1"));
  CHECK(has_line(text, "# TYPE " + p + "exchanges_total counter"));
  CHECK(has_line(text, p + "exchanges_total{result=\"success\",class=\"\"} 2"));
  CHECK(has_line(text, p + "exchanges_total{result=\"failure\",class=\"throttled\"} 1"));
  CHECK(has_line(text, p + "credentials_expiry_timestamp_seconds 1795957200.000"));
  CHECK(text.find("\n" + p + "svid_expiry_timestamp_seconds ") ==
        std::string::npos);  // unknown: no sample
  CHECK(has_line(text, p + "workload_api_reconnects_total 3"));
  CHECK(has_line(text, p + "exchange_duration_seconds_bucket{le=\"0.1\"} 0"));
  CHECK(has_line(text, p + "exchange_duration_seconds_bucket{le=\"0.25\"} 1"));
  CHECK(has_line(text, p + "exchange_duration_seconds_bucket{le=\"1\"} 2"));
  CHECK(has_line(text, p + "exchange_duration_seconds_bucket{le=\"30\"} 2"));
  CHECK(has_line(text, p + "exchange_duration_seconds_bucket{le=\"+Inf\"} 3"));
  CHECK(has_line(text, p + "exchange_duration_seconds_count 3"));
  CHECK(has_line(text, p + "exchange_duration_seconds_sum 100.9"));
  CHECK(has_line(text, p + "http_requests_total{route=\"credentials\",status=\"200\"} 1"));
  CHECK(has_line(text, p + "http_requests_total{route=\"credentials\",status=\"401\"} 1"));
  CHECK(text.back() == '\n');
}

TEST_CASE("metrics: several engines combined (one endpoint for a --config file)") {
  const auto t1 = util::parse_rfc3339("2026-11-29T13:00:00Z").value();
  const auto t2 = util::parse_rfc3339("2026-11-29T14:00:00Z").value();
  engine::Metrics a, b;
  ++a.exchanges[{"success", ""}];
  ++b.exchanges[{"success", ""}];
  ++b.exchanges[{"failure", "network"}];
  a.credentials_expiry = t2;
  b.credentials_expiry = t1;
  a.last_success = t1;
  b.last_success = t2;
  a.exchange_seconds.observe(0.2);
  b.exchange_seconds.observe(3);
  a.reconnects = 1;
  const auto both = engine::combine({&a, &b});
  CHECK(both.exchanges.at({"success", ""}) == 2);
  CHECK(both.exchanges.at({"failure", "network"}) == 1);
  CHECK(both.credentials_expiry == t1);  // the earliest
  CHECK(both.last_success == t2);        // the latest
  CHECK(both.exchange_seconds.count() == 2);
  CHECK(both.exchange_seconds.sum() == doctest::Approx(3.2));
  CHECK(both.reconnects == 1);
  CHECK(both.last_delivery_ok);
  // One engine without credentials yet: no expiry, so not ready.
  engine::Metrics none;
  CHECK_FALSE(engine::combine({&a, &none}).credentials_expiry.has_value());
  CHECK_FALSE(engine::combine({&none, &a}).credentials_expiry.has_value());
  // One whose last delivery failed: not ok.
  b.last_delivery_ok = false;
  CHECK_FALSE(engine::combine({&a, &b}).last_delivery_ok);
  CHECK_FALSE(engine::combine({}).credentials_expiry.has_value());
}
