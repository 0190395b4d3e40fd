#include "util/log.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "util/text.hpp"

namespace awh::log {
namespace {

Level g_level = Level::info;
Format g_format = Format::text;

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

std::string now_timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now - secs).count();
  const std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, millis);
}

}  // namespace

void configure(Level level, Format format) {
  g_level = level;
  g_format = format;
}

bool enabled(Level level) noexcept { return level >= g_level; }

std::string format_line(Level level, Format format, std::string_view timestamp,
                        std::string_view message) {
  if (format == Format::json) {
    return fmt::format(R"({{"time":{},"level":{},"msg":{}}})",
                       boost::json::serialize(boost::json::string(timestamp)),
                       boost::json::serialize(boost::json::string(level_name(level))),
                       boost::json::serialize(boost::json::string(message)));
  }
  // One record per line: control characters from peers' messages (an AWS error text, a gRPC
  // status) must not forge log lines or drive a terminal, so they are escaped.
  return fmt::format("{} {:<5} {}", timestamp, level_name(level), util::escape_text(message));
}

void write(Level level, std::string_view message) {
  std::string line = format_line(level, g_format, now_timestamp(), message);
  line.push_back('\n');
  // One fwrite per line so concurrent writers (gRPC's own threads never log through us, but
  // be safe) don't interleave within a line.
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace awh::log
