#include <doctest/doctest.h>

#include "creds/credentials.hpp"

TEST_CASE("credential_process JSON is compact with keys in AWS's order") {
  awh::creds::Credentials c;
  c.access_key_id = "ASIA1";
  c.secret_access_key = "se\"cret";
  c.session_token = "tok/+=";
  c.expiration = "2025-01-15T10:30:00Z";
  CHECK(
      awh::creds::credential_process_json(c) ==
      R"({"Version":1,"AccessKeyId":"ASIA1","SecretAccessKey":"se\"cret","SessionToken":"tok/+=","Expiration":"2025-01-15T10:30:00Z"})");
}

TEST_CASE("the expiration is checked before any output: parseable, in the future, long enough") {
  using std::chrono::seconds;
  const auto now = std::chrono::system_clock::from_time_t(1736937000);  // 2025-01-15T10:30:00Z
  const auto check = [&](std::string_view text, seconds min_left = seconds(0)) {
    return awh::creds::check_expiration(text, now, min_left);
  };
  CHECK(check("2025-01-15T11:30:00Z").has_value());
  CHECK(*check("2025-01-15T10:31:00Z", seconds(60)) == now + seconds(60));
  for (std::string_view bad : {"", "soon", "2025-13-01T00:00:00Z", "1736940600"}) {
    CAPTURE(bad);
    const auto r = check(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().cls == awh::errc::protocol);
    CHECK(r.error().message.find("is not an RFC 3339 time") != std::string::npos);
  }
  const auto past = check("2025-01-15T10:29:59Z");
  REQUIRE_FALSE(past.has_value());
  CHECK(past.error().message.find("already past") != std::string::npos);
  CHECK_FALSE(check("2025-01-15T10:30:00Z").has_value());  // now is not the future
  const auto short_lived = check("2025-01-15T10:30:59Z", seconds(60));
  REQUIRE_FALSE(short_lived.has_value());
  CHECK(short_lived.error().message.find("less than 60 s from now") != std::string::npos);
  CHECK(check("2025-01-15T10:30:59Z").has_value());  // a daemon may use them
  // A peer's text is escaped and bounded in the message.
  const auto hostile = check("\x1b[2J\n" + std::string(1000, 'x'));
  REQUIRE_FALSE(hostile.has_value());
  CHECK(hostile.error().message.find('\n') == std::string::npos);
  CHECK(hostile.error().message.size() < 300);
}
