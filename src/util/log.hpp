#pragma once
// Logging to stderr, as text or one JSON object per line. Configured once at start-up (before
// any other thread exists) and read-only afterwards. Callers must never pass secrets (secret
// keys, session tokens, private keys, JWTs): log identities, serials and expiry times only.

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace awh::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };
enum class Format { text, json };

void configure(Level level, Format format);
bool enabled(Level level) noexcept;
void write(Level level, std::string_view message);

// Formats one line the way write() would print it (without the trailing newline); exposed for
// tests.
std::string format_line(Level level, Format format, std::string_view timestamp,
                        std::string_view message);

template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::debug)) write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::info)) write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::warn)) write(Level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::error)) write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace awh::log
