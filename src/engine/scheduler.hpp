#pragma once
// When to exchange: the renewal decisions of every mode, as a pure state machine. The engine
// (engine/engine.hpp) feeds it events, each with the time it happened, and does what it answers:
// exchange now, wake it at T, reopen the Workload API stream at T, or stop with a code. No I/O,
// no clock and no global random source: tests drive it with a fake clock in milliseconds.
//
// The policy (ARCHITECTURE.md, "Renewal"):
//  - After credentials are issued, renew half-way through their remaining lifetime, up to
//    `jitter` of that earlier at random, never sooner than `floor`. The first renewal after
//    start is spread wider, uniformly over [first_earliest, 1/2] of the lifetime, so that a
//    fleet started in the same minute does not renew in waves forever (scripts/fleet-sim).
//  - Credentials that arrive with less than `floor` of life left count as a failure.
//  - A failure backs off (`failure`: about 1 s doubling to 60 s) and keeps the current outputs.
//  - A new SVID certificate (not a bundle-only update) and SIGHUP trigger an exchange at once.
//    At most one exchange is in flight: triggers that arrive during one are coalesced into one
//    more exchange after it, and exchanges caused by triggers are at least `min_trigger_spacing`
//    apart (the deferral is logged). During a failure backoff they wait for the next retry,
//    which uses the newest SVID: the backoff holds against a storm of rotations.
//  - A lost Workload API stream is reopened with backoff (`reconnect`), reset by a message; a
//    stream the agent rejects for good (workload_rejected) stops the daemon with exit 1.
//  - SIGTERM/SIGINT stop with exit 0.

#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "util/backoff.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace awh::engine {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using std::chrono::milliseconds;

// The two readings of one instant: steady for timers, wall for expirations and logs.
struct Now {
  SteadyTime steady;
  WallTime wall;
};

struct RenewalPolicy {
  milliseconds floor{1000};
  double jitter = 0.1;
  double first_earliest = 0.025;  // the first renewal: uniform in [0.025, 0.5] of the lifetime
  util::BackoffPolicy failure{milliseconds(1000), milliseconds(60000)};
  util::BackoffPolicy reconnect{milliseconds(1000), milliseconds(30000)};
  milliseconds min_trigger_spacing{5000};
};

// A random source in [0, 1), injected (engine/clock.hpp has the real one).
class Random {
 public:
  virtual ~Random() = default;
  virtual double uniform01() = 0;
};

namespace event {
struct Started {};  // the engine runs
struct SvidUpdate {
  bool new_certificate;     // false: the same certificate, another bundle
  std::string description;  // "spiffe://... (serial N)", for the log
};
struct Issued {            // credentials delivered to every output
  milliseconds remaining;  // their lifetime left when they arrived
  std::string expiration;  // RFC 3339, for the log
  std::string summary;     // "renewed profile [p] of FILE with X.509-SVID ...", for the log
};
struct Failed {  // the identity, the exchange or an output failed
  Error error;
};
struct Sighup {};
struct StreamLost {
  Error error;
};
struct StreamBack {};  // the first message after the stream was (re)opened
struct Tick {};        // the time asked for in Decision::wake_at came
struct Terminate {
  std::string signal;  // "SIGTERM", "SIGINT"
};
struct GiveUp {  // the driver's own deadline passed (serve: no credentials within --timeout)
  Error error;
};
}  // namespace event

using Event = std::variant<event::Started, event::SvidUpdate, event::Issued, event::Failed,
                           event::Sighup, event::StreamLost, event::StreamBack, event::Tick,
                           event::Terminate, event::GiveUp>;

enum class Trigger { start, due, retry, rotation, sighup };
const char* trigger_name(Trigger t);

struct Note {
  log::Level level;
  std::string text;
};

struct Decision {
  std::optional<Trigger> exchange;         // start one exchange now (none is in flight)
  std::optional<SteadyTime> wake_at;       // send event::Tick at this time
  std::optional<SteadyTime> reconnect_at;  // reopen the Workload API stream at this time
  std::optional<int> stop;                 // stop with this exit code
  std::vector<Note> notes;                 // what to log, in order
};

class Scheduler {
 public:
  // `stream`: the identity comes from an X.509-SVID stream, so the first exchange waits for the
  // first SVID; otherwise (JWT) it starts at once. `keeper` names what keeps the current
  // credentials when a renewal fails ("the file").
  Scheduler(RenewalPolicy policy, bool stream, Random& random, std::string keeper);

  Decision on(const Event& e, Now now);

  // For tests and logs.
  bool in_flight() const { return in_flight_; }
  int failures() const { return failures_; }

 private:
  Decision started(Now now);
  Decision svid(const event::SvidUpdate& e, Now now);
  Decision issued(const event::Issued& e, Now now);
  Decision failed(const event::Failed& e, Now now);
  Decision trigger(Trigger why, Now now);
  Decision stream_lost(const event::StreamLost& e, Now now);
  // Decides what happens next from the state; appends to `d`.
  void evaluate(Decision& d, Now now);
  std::optional<SteadyTime> next_exchange() const;
  milliseconds first_renewal_delay(milliseconds remaining);
  milliseconds renewal_delay(milliseconds remaining);

  RenewalPolicy policy_;
  bool stream_;
  Random& random_;
  std::string keeper_;

  bool have_identity_ = false;
  bool in_flight_ = false;
  bool stopping_ = false;
  bool issued_once_ = false;
  std::optional<SteadyTime> due_;                 // the next timed exchange (renewal or retry)
  std::optional<Trigger> pending_;                // a rotation or SIGHUP waiting to be served
  std::optional<SteadyTime> last_trigger_start_;  // when the last triggered exchange started
  bool deferral_logged_ = false;                  // the pending trigger's wait has been logged
  int failures_ = 0;
  int reconnects_ = 0;
};

// "12.3s": durations in log lines.
std::string seconds_text(milliseconds d);

}  // namespace awh::engine
