#include "engine/scheduler.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "util/overload.hpp"
#include "util/time.hpp"

namespace awh::engine {
namespace {

std::string at_text(Now now, SteadyTime when) {
  const auto delay = std::chrono::duration_cast<milliseconds>(when - now.steady);
  return fmt::format(
      "{} (in {})",
      util::format_rfc3339(now.wall + std::chrono::duration_cast<WallTime::duration>(delay)),
      seconds_text(delay));
}

}  // namespace

const char* trigger_name(Trigger t) {
  switch (t) {
    case Trigger::start:
      return "start";
    case Trigger::due:
      return "renewal due";
    case Trigger::retry:
      return "retry";
    case Trigger::rotation:
      return "new SVID";
    case Trigger::sighup:
      return "SIGHUP";
  }
  return "?";
}

std::string seconds_text(milliseconds d) {
  return fmt::format("{:.1f}s", static_cast<double>(d.count()) / 1000.0);
}

Scheduler::Scheduler(RenewalPolicy policy, bool stream, Random& random, std::string keeper)
    : policy_(policy), stream_(stream), random_(random), keeper_(std::move(keeper)) {}

Decision Scheduler::on(const Event& e, Now now) {
  if (stopping_) return {};
  return std::visit(
      util::Overload{
          [&](const event::Started&) { return started(now); },
          [&](const event::SvidUpdate& u) { return svid(u, now); },
          [&](const event::Issued& i) { return issued(i, now); },
          [&](const event::Failed& f) { return failed(f, now); },
          [&](const event::Sighup&) { return trigger(Trigger::sighup, now); },
          [&](const event::StreamLost& l) { return stream_lost(l, now); },
          [&](const event::StreamBack&) {
            reconnects_ = 0;
            Decision d;
            evaluate(d, now);
            return d;
          },
          [&](const event::Tick&) {
            Decision d;
            evaluate(d, now);
            return d;
          },
          [&](const event::Terminate& t) {
            stopping_ = true;
            Decision d;
            d.stop = 0;
            d.notes.push_back({log::Level::info, fmt::format("{}: stopping", t.signal)});
            return d;
          },
          [&](const event::GiveUp& g) {
            stopping_ = true;
            Decision d;
            d.stop = 1;
            d.notes.push_back({log::Level::error, g.error.message});
            return d;
          },
      },
      e);
}

Decision Scheduler::started(Now now) {
  Decision d;
  if (!stream_) {
    have_identity_ = true;
    due_ = now.steady;
  }
  evaluate(d, now);
  return d;
}

Decision Scheduler::svid(const event::SvidUpdate& e, Now now) {
  if (!e.new_certificate) {
    Decision d;
    d.notes.push_back(
        {log::Level::debug,
         fmt::format("Workload API update without a new certificate for {} (bundle only)",
                     e.description)});
    evaluate(d, now);
    return d;
  }
  if (!have_identity_) {
    have_identity_ = true;
    due_ = now.steady;
    Decision d;
    evaluate(d, now);
    return d;
  }
  return trigger(Trigger::rotation, now);
}

Decision Scheduler::trigger(Trigger why, Now now) {
  Decision d;
  if (!have_identity_) {  // nothing to exchange yet; the first SVID starts the first exchange
    if (why == Trigger::sighup) {
      d.notes.push_back(
          {log::Level::info, "SIGHUP: no SVID yet; the first exchange follows the first SVID"});
    }
    return d;
  }
  if (why == Trigger::sighup)
    d.notes.push_back({log::Level::info, "SIGHUP: renewing the credentials"});
  if (!pending_) pending_ = why;
  if (in_flight_) {
    d.notes.push_back(
        {log::Level::debug,
         fmt::format("{}: an exchange is in flight; another follows it", trigger_name(why))});
  }
  evaluate(d, now);
  return d;
}

Decision Scheduler::issued(const event::Issued& e, Now now) {
  in_flight_ = false;
  Decision d;
  if (e.remaining < policy_.floor) {
    ++failures_;
    due_ = now.steady + util::backoff_delay(policy_.failure, failures_ - 1, random_.uniform01());
    evaluate(d, now);
    d.notes.push_back(
        {log::Level::warn,
         fmt::format("the new credentials expire at {}, which is (nearly) past: is the clock "
                     "right? renewing again at {}",
                     e.expiration, at_text(now, *next_exchange()))});
    return d;
  }
  failures_ = 0;
  const auto delay = issued_once_ ? renewal_delay(e.remaining) : first_renewal_delay(e.remaining);
  issued_once_ = true;
  due_ = now.steady + delay;
  evaluate(d, now);
  const auto next = d.exchange ? now.steady : *next_exchange();
  d.notes.insert(
      d.notes.begin(),
      {log::Level::info, fmt::format("{}; the credentials expire at {}; next renewal at {}",
                                     e.summary, e.expiration, at_text(now, next))});
  return d;
}

Decision Scheduler::failed(const event::Failed& e, Now now) {
  in_flight_ = false;
  ++failures_;
  due_ = now.steady + util::backoff_delay(policy_.failure, failures_ - 1, random_.uniform01());
  Decision d;
  evaluate(d, now);
  // The log names the attempt that will really happen: a pending trigger may come first.
  const std::string next = d.exchange
                               ? fmt::format("retrying now ({})", trigger_name(*d.exchange))
                               : fmt::format("next attempt at {}", at_text(now, *next_exchange()));
  d.notes.insert(
      d.notes.begin(),
      {log::Level::error, fmt::format("renewal failed ({} in a row): {}; {} keeps the current "
                                      "credentials; {}",
                                      failures_, e.error.message, keeper_, next)});
  return d;
}

Decision Scheduler::stream_lost(const event::StreamLost& e, Now now) {
  Decision d;
  if (e.error.cls == errc::workload_rejected || !e.error.retryable()) {
    stopping_ = true;
    d.stop = 1;
    d.notes.push_back({log::Level::error, fmt::format("{}; giving up", e.error.message)});
    return d;
  }
  const auto delay = util::backoff_delay(policy_.reconnect, reconnects_++, random_.uniform01());
  d.reconnect_at = now.steady + delay;
  d.notes.push_back({log::Level::warn,
                     fmt::format("{}; reconnecting in {}", e.error.message, seconds_text(delay))});
  evaluate(d, now);
  return d;
}

std::optional<SteadyTime> Scheduler::next_exchange() const {
  std::optional<SteadyTime> next = due_;
  // A failure backoff holds against triggers: the retry at due_ serves them (it uses the newest
  // SVID), so a rotation storm against a failing service can't turn into an exchange storm.
  if (pending_ && failures_ == 0) {
    SteadyTime t = SteadyTime::min();
    if (last_trigger_start_) t = *last_trigger_start_ + policy_.min_trigger_spacing;
    if (!next || t < *next) next = t;
  }
  return next;
}

void Scheduler::evaluate(Decision& d, Now now) {
  if (stopping_ || in_flight_ || !have_identity_) return;
  const auto next = next_exchange();
  if (!next) return;
  if (*next > now.steady) {
    d.wake_at = *next;
    if (pending_ && !deferral_logged_ && failures_ > 0) {
      deferral_logged_ = true;
      d.notes.push_back(
          {log::Level::info, fmt::format("{}: renewals are failing; the retry at {} will use it",
                                         trigger_name(*pending_), at_text(now, *next))});
    } else if (pending_ && !deferral_logged_ && (!due_ || *next < *due_)) {
      deferral_logged_ = true;
      d.notes.push_back(
          {log::Level::info,
           fmt::format("{}: exchanging at {}: exchanges caused by a new SVID or SIGHUP are at "
                       "least {} apart",
                       trigger_name(*pending_), at_text(now, *next),
                       seconds_text(policy_.min_trigger_spacing))});
    }
    return;
  }
  // Which reason wins: a pending trigger that is ready, else the timer (first, retry, renewal).
  Trigger why = !issued_once_ && failures_ == 0 ? Trigger::start
                : failures_ > 0                 ? Trigger::retry
                                                : Trigger::due;
  if (pending_) {
    const bool ready =
        failures_ == 0 &&
        (!last_trigger_start_ || *last_trigger_start_ + policy_.min_trigger_spacing <= now.steady);
    if (ready) {
      why = *pending_;
      last_trigger_start_ = now.steady;
    }
    // A timed exchange also serves a pending trigger: the new SVID is used either way.
    pending_.reset();
    deferral_logged_ = false;
  }
  in_flight_ = true;
  due_.reset();
  d.exchange = why;
}

milliseconds Scheduler::renewal_delay(milliseconds remaining) {
  if (remaining <= milliseconds(0)) return policy_.floor;
  const auto half = remaining / 2;
  const double u = std::clamp(random_.uniform01(), 0.0, 1.0);
  const auto early = milliseconds(
      static_cast<milliseconds::rep>(static_cast<double>(half.count()) * policy_.jitter * u));
  return std::max(half - early, policy_.floor);
}

milliseconds Scheduler::first_renewal_delay(milliseconds remaining) {
  if (remaining <= milliseconds(0)) return policy_.floor;
  const double u = std::clamp(random_.uniform01(), 0.0, 1.0);
  const double fraction = policy_.first_earliest + (0.5 - policy_.first_earliest) * u;
  const auto delay = milliseconds(
      static_cast<milliseconds::rep>(static_cast<double>(remaining.count()) * fraction));
  return std::max(delay, policy_.floor);
}

}  // namespace awh::engine
