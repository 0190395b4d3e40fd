#include "util/time.hpp"

#include <fmt/format.h>

#include <cctype>

namespace awh::util {
namespace {

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

Result<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s) {
  using namespace std::chrono;
  auto bad = [&] {
    return make_error(errc::invalid_input, fmt::format("'{}' is not an RFC 3339 time", s));
  };
  int y, mo, d, h, mi, sec;
  // date-time = full-date "T" partial-time time-offset (RFC 3339 §5.6); 't' and ' ' are allowed
  // too.
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
      !digits(s, 17, 2, sec)) {
    return bad();
  }
  const year_month_day date{year{y}, month{static_cast<unsigned>(mo)},
                            day{static_cast<unsigned>(d)}};
  if (!date.ok() || h > 23 || mi > 59 || sec > 60) return bad();  // 60: a leap second
  std::size_t pos = 19;
  nanoseconds fraction{0};
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    long long value = 0, scale = 1'000'000'000;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (scale > 1) {
        scale /= 10;
        value += (s[pos] - '0') * scale;
      }
      ++pos;
    }
    if (pos == start) return bad();
    fraction = nanoseconds(value);
  }
  minutes offset{0};
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return bad();
    }
    offset = minutes(oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  // In whole seconds first: system_clock counts nanoseconds here, so it spans only the years
  // 1677..2262; a time outside that is refused, not overflowed (found by fuzz_time).
  const sys_seconds whole = sys_days(date) + hours(h) + minutes(mi) + seconds(sec) - offset;
  constexpr auto kMax = duration_cast<seconds>(system_clock::duration::max()) - seconds(1);
  constexpr auto kMin = duration_cast<seconds>(system_clock::duration::min()) + seconds(1);
  if (whole.time_since_epoch() > kMax || whole.time_since_epoch() < kMin) {
    return make_error(errc::invalid_input,
                      fmt::format("'{}' is out of the supported range of times", s));
  }
  return time_point_cast<system_clock::duration>(whole) +
         duration_cast<system_clock::duration>(fraction);
}

std::string format_rfc3339(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(t);
  const auto days = floor<std::chrono::days>(secs);
  const year_month_day ymd{days};
  const hh_mm_ss hms{secs - days};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

}  // namespace awh::util
