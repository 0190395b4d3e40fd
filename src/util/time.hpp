#pragma once
// RFC 3339 timestamps as AWS sends them ("2026-11-24T13:00:00Z", optionally with fractional
// seconds or a numeric offset), to and from std::chrono::system_clock.

#include <chrono>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace awh::util {

Result<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

// UTC, whole seconds: "2026-11-24T13:00:00Z".
std::string format_rfc3339(std::chrono::system_clock::time_point t);

}  // namespace awh::util
