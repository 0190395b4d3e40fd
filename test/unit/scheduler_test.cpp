// The renewal state machine, driven with a fake clock and a scripted random source: every
// decision the daemon makes, in milliseconds.
#include <doctest/doctest.h>

#include <deque>
#include <regex>

#include "engine/scheduler.hpp"
#include "util/time.hpp"

using namespace std::chrono;
using namespace awh::engine;
using awh::errc;
using awh::make_error;

namespace {

// Scripted uniform draws; 0.5 once the script runs out.
class ScriptedRandom final : public Random {
 public:
  explicit ScriptedRandom(std::deque<double> script = {}) : script_(std::move(script)) {}
  double uniform01() override {
    if (script_.empty()) return 0.5;
    const double u = script_.front();
    script_.pop_front();
    return u;
  }
  void push(double u) { script_.push_back(u); }

 private:
  std::deque<double> script_;
};

// A fake clock: both readings move together from a fixed start.
struct FakeClock {
  SteadyTime steady0{hours(1000)};
  WallTime wall0 = awh::util::parse_rfc3339("2026-11-29T12:00:00Z").value();
  milliseconds t{0};
  Now now() const { return {steady0 + t, wall0 + t}; }
  SteadyTime at(milliseconds when) const { return steady0 + when; }
};

struct Harness {
  explicit Harness(bool stream, std::deque<double> script = {}, RenewalPolicy policy = {})
      : random(std::move(script)), scheduler(policy, stream, random, "the file") {}
  Decision on(const Event& e) { return scheduler.on(e, clock.now()); }
  Decision at(milliseconds t, const Event& e) {
    clock.t = t;
    return on(e);
  }
  event::Issued issued(milliseconds remaining) {
    return {remaining, "2026-11-29T13:00:00Z", "renewed profile [p]"};
  }
  ScriptedRandom random;
  Scheduler scheduler;
  FakeClock clock;
};

std::string notes_text(const Decision& d) {
  std::string out;
  for (const auto& n : d.notes) out += n.text + "\n";
  return out;
}

// "(in 12.3s)" in a note -> 12300 ms.
milliseconds in_from_note(const std::string& text) {
  std::smatch m;
  REQUIRE(std::regex_search(text, m, std::regex(R"(\(in ([0-9]+)\.([0-9])s\))")));
  return milliseconds(std::stoll(m[1]) * 1000 + std::stoll(m[2]) * 100);
}

}  // namespace

TEST_CASE(
    "JWT starts at once; X.509 waits for the first SVID; a bundle-only update changes nothing") {
  Harness jwt(false);
  CHECK(jwt.on(event::Started{}).exchange == Trigger::start);

  Harness x509(true);
  auto d = x509.on(event::Started{});
  CHECK_FALSE(d.exchange);
  CHECK_FALSE(d.wake_at);
  CHECK_FALSE(x509.on(event::Sighup{}).exchange);  // nothing to exchange with yet
  CHECK(x509.at(milliseconds(300), event::SvidUpdate{true, "svid"}).exchange == Trigger::start);
  // While the first exchange is in flight, a bundle-only update is only noted.
  d = x509.at(milliseconds(400), event::SvidUpdate{false, "svid"});
  CHECK_FALSE(d.exchange);
  REQUIRE(d.notes.size() == 1);
  CHECK(d.notes[0].level == awh::log::Level::debug);
  CHECK(d.notes[0].text.find("bundle only") != std::string::npos);
}

TEST_CASE("renewal at half the remaining lifetime, jittered earlier, never below the floor") {
  struct Row {
    milliseconds remaining;
    double u;
    milliseconds expected;
  };
  // After the first renewal (spread wider, below): half-life minus up to 10 % of it.
  const Row rows[] = {
      {hours(1), 0.0, minutes(30)},
      {hours(1), 0.5, minutes(30) - seconds(90)},
      {hours(1), 0.999, seconds(1620) + milliseconds(180)},
      {seconds(900), 0.0, seconds(450)},
      {seconds(900), 1.0, seconds(405)},
      {seconds(4), 0.0, seconds(2)},          // short test lifetimes: still half-life
      {milliseconds(1500), 0.0, seconds(1)},  // the floor
      {milliseconds(1000), 0.0, seconds(1)},  // exactly the floor left: still usable
  };
  for (const auto& row : rows) {
    CAPTURE(row.remaining.count());
    CAPTURE(row.u);
    Harness h(false, {0.0, row.u});
    REQUIRE(h.on(event::Started{}).exchange);
    auto first = h.at(milliseconds(200), h.issued(hours(1)));  // the first renewal: u = 0
    REQUIRE(first.wake_at);
    CHECK(*first.wake_at == h.clock.at(milliseconds(200) + seconds(90)));  // 2.5 % of an hour
    REQUIRE(h.at(milliseconds(200) + seconds(90), event::Tick{}).exchange == Trigger::due);
    const auto t = milliseconds(200) + seconds(91);
    auto d = h.at(t, h.issued(row.remaining));
    REQUIRE(d.wake_at);
    CHECK(*d.wake_at - h.clock.at(t) == row.expected);
    // The log rounds to a tenth of a second.
    CHECK(abs(in_from_note(d.notes.at(0).text) - row.expected) <= milliseconds(50));
    CHECK(d.notes.at(0).text.find(
              "renewed profile [p]; the credentials expire at 2026-11-29T13:00:00Z; next "
              "renewal at") == 0);
    // Nothing happens before the time; the tick at the time exchanges.
    CHECK_FALSE(h.at(t + row.expected - milliseconds(1), event::Tick{}).exchange);
    CHECK(h.at(t + row.expected, event::Tick{}).exchange == Trigger::due);
  }
}

TEST_CASE("the first renewal after start is spread over [2.5 %, 50 %] of the lifetime") {
  for (const auto& [u, expected] : {std::pair{0.0, seconds(90)}, std::pair{1.0, seconds(1800)},
                                    std::pair{0.5, seconds(90) + seconds(855)}}) {
    CAPTURE(u);
    Harness h(false, {u});
    h.on(event::Started{});
    auto d = h.at(milliseconds(0), h.issued(hours(1)));
    REQUIRE(d.wake_at);
    CHECK(*d.wake_at - h.clock.at(milliseconds(0)) == expected);
  }
  // Short lifetimes keep the floor.
  Harness h(false, {0.0});
  h.on(event::Started{});
  CHECK(*h.on(h.issued(seconds(4))).wake_at - h.clock.at(milliseconds(0)) == seconds(1));
}

TEST_CASE("an expiry already past counts as a failure: backoff, never a hot loop") {
  for (const milliseconds remaining :
       {milliseconds(-hours(5)), milliseconds(0), milliseconds(999)}) {
    CAPTURE(remaining.count());
    Harness h(false, {1.0, 1.0, 1.0});
    h.on(event::Started{});
    auto d = h.at(milliseconds(100), h.issued(remaining));
    CHECK_FALSE(d.exchange);
    REQUIRE(d.wake_at);
    CHECK(*d.wake_at - h.clock.at(milliseconds(100)) == seconds(1));  // failure backoff, first step
    CHECK(h.scheduler.failures() == 1);
    CHECK(notes_text(d).find("(nearly) past: is the clock right? renewing again at") !=
          std::string::npos);
    CHECK(in_from_note(notes_text(d)) == seconds(1));
    // The next one, also past: the backoff doubles.
    REQUIRE(h.at(seconds(2), event::Tick{}).exchange == Trigger::retry);
    d = h.at(seconds(2), h.issued(remaining));
    CHECK(*d.wake_at - h.clock.at(seconds(2)) == seconds(2));
  }
}

TEST_CASE("failures back off exponentially to the cap; the log names the real next attempt") {
  Harness h(false, {});
  for (int i = 0; i < 12; ++i) h.random.push(1.0);
  h.on(event::Started{});
  milliseconds t{0};
  const milliseconds expected[] = {seconds(1),  seconds(2),  seconds(4),  seconds(8),
                                   seconds(16), seconds(32), seconds(60), seconds(60)};
  for (std::size_t i = 0; i < std::size(expected); ++i) {
    CAPTURE(i);
    auto d =
        h.at(t, event::Failed{make_error(errc::server, "ServiceUnavailable: down (HTTP 503)")});
    REQUIRE(d.wake_at);
    CHECK(*d.wake_at - h.clock.at(t) == expected[i]);
    const auto text = notes_text(d);
    CHECK(text.find(fmt::format(
              "renewal failed ({} in a row): ServiceUnavailable: down (HTTP 503); the file keeps "
              "the current credentials; next attempt at ",
              i + 1)) == 0);
    CHECK(in_from_note(text) == expected[i]);
    t += expected[i];
    REQUIRE(h.at(t, event::Tick{}).exchange == Trigger::retry);
  }
  // Success resets the backoff.
  h.random.push(0.0);
  h.at(t, h.issued(hours(1)));
  CHECK(h.scheduler.failures() == 0);
}

TEST_CASE("a rotation during a failure backoff waits for the retry, which uses it") {
  Harness h(true, {});
  for (int i = 0; i < 10; ++i) h.random.push(1.0);
  h.on(event::Started{});
  REQUIRE(h.at(milliseconds(0), event::SvidUpdate{true, "a"}).exchange == Trigger::start);
  h.at(milliseconds(100),
       event::Failed{make_error(errc::denied, "AccessDeniedException: no (HTTP 403)")});
  REQUIRE(h.at(milliseconds(1100), event::Tick{}).exchange == Trigger::retry);
  h.at(milliseconds(1200),
       event::Failed{make_error(errc::denied, "AccessDeniedException: no (HTTP 403)")});
  REQUIRE(h.at(milliseconds(3200), event::Tick{}).exchange == Trigger::retry);
  auto d = h.at(milliseconds(3300),
                event::Failed{make_error(errc::denied, "AccessDeniedException: no (HTTP 403)")});
  CHECK(*d.wake_at == h.clock.at(milliseconds(3300) + seconds(4)));  // third failure: 4 s

  d = h.at(milliseconds(4000), event::SvidUpdate{true, "b"});
  CHECK_FALSE(d.exchange);  // the backoff holds
  CHECK(*d.wake_at == h.clock.at(milliseconds(7300)));
  CHECK(notes_text(d).find("new SVID: renewals are failing; the retry at") != std::string::npos);
  CHECK(in_from_note(notes_text(d)) == milliseconds(3300));
  CHECK_FALSE(h.at(milliseconds(5000), event::SvidUpdate{true, "c"}).exchange);
  CHECK(h.at(milliseconds(7300), event::Tick{}).exchange == Trigger::retry);
  CHECK(h.scheduler.failures() == 3);
  d = h.at(milliseconds(7400),
           event::Failed{make_error(errc::denied, "AccessDeniedException: no (HTTP 403)")});
  CHECK(*d.wake_at == h.clock.at(milliseconds(7400) + seconds(8)));  // the backoff goes on growing
}

TEST_CASE("a failure while a trigger is pending: the log says when the next attempt really is") {
  Harness h(false, {1.0, 1.0, 1.0, 1.0});
  REQUIRE(h.on(event::Started{}).exchange == Trigger::start);
  CHECK_FALSE(h.at(milliseconds(10), event::Sighup{}).exchange);  // one exchange at a time...
  CHECK(h.at(milliseconds(100), h.issued(hours(1))).exchange ==
        Trigger::sighup);  // ...then the SIGHUP's
  h.at(milliseconds(200), h.issued(hours(1)));
  REQUIRE(h.at(seconds(10), event::Sighup{}).exchange == Trigger::sighup);
  CHECK(h.at(seconds(11), event::Sighup{}).notes.size() == 2);  // noted; in flight, so it waits
  auto d = h.at(seconds(12), event::Failed{make_error(errc::network, "connect failed")});
  // The backoff alone would say 1 s; the pending SIGHUP may not run before 10 s + 5 s.
  CHECK(*d.wake_at == h.clock.at(seconds(13)));
  CHECK(in_from_note(notes_text(d)) == seconds(1));
  REQUIRE(h.at(seconds(13), event::Tick{}).exchange ==
          Trigger::retry);  // the retry serves the SIGHUP too
  d = h.at(seconds(14), event::Failed{make_error(errc::network, "connect failed")});
  CHECK(*d.wake_at == h.clock.at(seconds(16)));

  // A trigger that would be ready when the failure comes still waits for the backoff.
  Harness g(false, {1.0, 1.0});
  g.on(event::Started{});
  g.at(milliseconds(0), g.issued(hours(1)));
  REQUIRE(g.at(seconds(100), event::Sighup{}).exchange == Trigger::sighup);
  g.at(seconds(100) + milliseconds(100), event::Sighup{});  // arrives while in flight
  d = g.at(seconds(106), event::Failed{make_error(errc::network, "connect failed")});
  CHECK_FALSE(d.exchange);
  CHECK(*d.wake_at == g.clock.at(seconds(107)));
  CHECK(in_from_note(notes_text(d)) == seconds(1));
}

TEST_CASE(
    "a burst of rotations is coalesced: one exchange in flight, exchanges at least 5 s apart") {
  Harness h(true);
  h.on(event::Started{});
  int exchanges = 0;
  auto count = [&](const Decision& d) {
    if (d.exchange) ++exchanges;
    return d;
  };
  count(h.at(milliseconds(0), event::SvidUpdate{true, "a"}));
  count(h.at(milliseconds(200), h.issued(hours(1))));
  CHECK(exchanges == 1);

  // Ten rotations in a second, the exchange taking 400 ms.
  std::string log;
  for (int i = 0; i < 10; ++i) {
    auto d = count(h.at(seconds(60) + milliseconds(100 * i),
                        event::SvidUpdate{true, "r" + std::to_string(i)}));
    log += notes_text(d);
    if (i == 4) log += notes_text(count(h.at(seconds(60) + milliseconds(450), h.issued(hours(1)))));
  }
  CHECK(exchanges == 2);  // the first rotation, at once
  CHECK(h.scheduler.in_flight() == false);
  // The rest wait for the spacing, and the log says so once.
  const auto pos = log.find("new SVID: exchanging at");
  REQUIRE(pos != std::string::npos);
  CHECK(log.find("new SVID: exchanging at", pos + 1) == std::string::npos);
  CHECK(log.find("at least 5.0s apart") != std::string::npos);
  CHECK_FALSE(count(h.at(seconds(64), event::Tick{})).exchange);
  CHECK(count(h.at(seconds(65), event::Tick{})).exchange == Trigger::rotation);
  CHECK(exchanges == 3);
  count(h.at(seconds(65) + milliseconds(300), h.issued(hours(1))));
  // Quiet afterwards: the next exchange is the timed renewal.
  CHECK_FALSE(count(h.at(seconds(600), event::Tick{})).exchange);
  CHECK(exchanges == 3);
}

TEST_CASE("a burst of SIGHUPs is coalesced the same way") {
  Harness h(false);
  h.on(event::Started{});
  int exchanges = 1;
  h.at(milliseconds(100), h.issued(hours(1)));
  for (int i = 0; i < 20; ++i) {
    auto d = h.at(seconds(30) + milliseconds(50 * i), event::Sighup{});
    if (d.exchange) ++exchanges;
    if (i == 2) h.at(seconds(30) + milliseconds(120), h.issued(hours(1)));
  }
  CHECK(exchanges == 2);
  CHECK(h.at(seconds(35), event::Tick{}).exchange == Trigger::sighup);
  h.at(seconds(35) + milliseconds(100), h.issued(hours(1)));
  // A SIGHUP long after: at once again.
  CHECK(h.at(seconds(100), event::Sighup{}).exchange == Trigger::sighup);
}

TEST_CASE(
    "a lost stream reconnects with backoff, reset by a message; a rejected one stops with 1") {
  Harness h(true, {1.0, 1.0, 1.0, 1.0, 1.0});
  h.on(event::Started{});
  const auto lost =
      event::StreamLost{make_error(errc::workload_unavailable, "the Workload API is unavailable")};
  auto d = h.at(milliseconds(0), lost);
  REQUIRE(d.reconnect_at);
  CHECK(*d.reconnect_at == h.clock.at(seconds(1)));
  CHECK(notes_text(d).find("reconnecting in 1.0s") != std::string::npos);
  d = h.at(seconds(1), lost);
  CHECK(*d.reconnect_at == h.clock.at(seconds(3)));
  d = h.at(seconds(3), lost);
  CHECK(*d.reconnect_at == h.clock.at(seconds(7)));
  h.at(seconds(8), event::StreamBack{});
  d = h.at(seconds(9), lost);
  CHECK(*d.reconnect_at == h.clock.at(seconds(10)));  // back to the first step
  CHECK_FALSE(d.stop);

  d = h.at(seconds(10),
           event::StreamLost{make_error(errc::workload_rejected, "rejected (INVALID_ARGUMENT)")});
  CHECK(d.stop == 1);
  CHECK(notes_text(d).find("rejected (INVALID_ARGUMENT); giving up") != std::string::npos);
  CHECK_FALSE(h.at(seconds(11), event::SvidUpdate{true, "x"}).exchange);  // stopped: nothing more
}

TEST_CASE("SIGTERM stops with 0, also with an exchange in flight; later events do nothing") {
  Harness h(false);
  REQUIRE(h.on(event::Started{}).exchange);
  auto d = h.at(milliseconds(50), event::Terminate{"SIGTERM"});
  CHECK(d.stop == 0);
  CHECK(notes_text(d) == "SIGTERM: stopping\n");
  CHECK_FALSE(h.at(milliseconds(60), h.issued(hours(1))).wake_at);
  CHECK_FALSE(h.at(milliseconds(70), event::Sighup{}).exchange);
}

TEST_CASE("the driver's own deadline (serve: no credentials within --timeout) stops with 1") {
  Harness h(true);
  h.on(event::Started{});
  auto d = h.at(seconds(30),
                event::GiveUp{make_error(errc::timeout, "no credentials within --timeout (30 s)")});
  CHECK(d.stop == 1);
  CHECK(notes_text(d) == "no credentials within --timeout (30 s)\n");
  CHECK_FALSE(h.at(seconds(31), event::SvidUpdate{true, "x"}).exchange);
}

namespace {

// A storm, in 10 ms steps: a new certificate every `rotate_every` (or `sighups` SIGHUPs spread
// over the first second), each exchange taking 300 ms and answering 1 h credentials or a 403.
// Checks on the way that each failure's log names the time of the next exchange truthfully.
struct Storm {
  milliseconds length{20000};
  milliseconds rotate_every{0};
  int sighups = 0;
  bool deny = false;
  milliseconds spacing{5000};
};
int exchanges_in(const Storm& s) {
  RenewalPolicy policy;
  policy.min_trigger_spacing = s.spacing;
  Harness h(s.rotate_every.count() > 0, {}, policy);
  int exchanges = 0;
  std::optional<milliseconds> wake, done_at, promised;
  const auto apply = [&](const Decision& d, milliseconds t) {
    if (d.exchange) {
      ++exchanges;
      done_at = t + milliseconds(300);
      // The log told the truth (it shows tenths of a second; the loop steps 10 ms).
      if (promised) CHECK(abs(t - *promised) < milliseconds(100));
      promised.reset();
    }
    if (d.wake_at) wake = duration_cast<milliseconds>(*d.wake_at - h.clock.steady0);
  };
  apply(h.at(milliseconds(0), event::Started{}), milliseconds(0));
  if (s.rotate_every.count() > 0) {
    apply(h.at(milliseconds(0), event::SvidUpdate{true, "first"}), milliseconds(0));
  }
  for (milliseconds t{10}; t <= s.length; t += milliseconds(10)) {
    if (done_at && t >= *done_at) {
      done_at.reset();
      if (s.deny) {
        const auto d = h.at(
            t, event::Failed{make_error(errc::denied, "AccessDeniedException: no (HTTP 403)")});
        if (!d.exchange) promised = t + in_from_note(notes_text(d));
        apply(d, t);
      } else {
        apply(h.at(t, h.issued(hours(1))), t);
      }
    }
    if (s.rotate_every.count() > 0 && t.count() % s.rotate_every.count() == 0) {
      apply(h.at(t, event::SvidUpdate{true, "r" + std::to_string(t.count())}), t);
    }
    if (s.sighups > 0 && t < milliseconds(1000) && t.count() % (1000 / s.sighups) == 0) {
      apply(h.at(t, event::Sighup{}), t);
    }
    if (wake && t >= *wake) {
      wake.reset();
      apply(h.at(t, event::Tick{}), t);
    }
  }
  return exchanges;
}

}  // namespace

TEST_CASE("storms (issue 12's numbers): rotations every 100 ms, a 403 each time, 50 SIGHUPs") {
  // A new certificate every 100 ms for 20 s: the start's exchange, the first rotation's right
  // after it (0.3 s), then one per 5 s.
  Storm rotations;
  rotations.rotate_every = milliseconds(100);
  CHECK(exchanges_in(rotations) == 5);
  // The same with every answer a 403 for 15 s: only the backoff's retries (0, 1.3, 3.6, 7.9,
  // 16.2 s with the mid-range random draws), and every "next attempt at" in the log is true.
  Storm denied = rotations;
  denied.length = milliseconds(15000);
  denied.deny = true;
  CHECK(exchanges_in(denied) <= 5);
  // Fifty SIGHUPs in a second: one exchange at once and one more after the spacing.
  Storm hups;
  hups.sighups = 50;
  hups.length = milliseconds(1000);
  CHECK(exchanges_in(hups) == 1 + 1);  // the start's and the first SIGHUP's
  hups.length = milliseconds(10000);
  CHECK(exchanges_in(hups) == 3);  // ... and the coalesced rest, 5 s later
  // The spacing is configurable (--min-renew-interval).
  rotations.spacing = milliseconds(2000);
  CHECK(exchanges_in(rotations) == 11);
}
