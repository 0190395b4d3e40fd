#include <doctest/doctest.h>

#include "util/log.hpp"

using namespace awh::log;

TEST_CASE("text and JSON log lines") {
  CHECK(format_line(Level::warn, Format::text, "T", "hello") == "T warn  hello");
  CHECK(format_line(Level::info, Format::text, "T", "a\nb\x1b[31m") == "T info  a\\nb\\x1b[31m");
  CHECK(format_line(Level::error, Format::json, "T", "a \"q\"\nb") ==
        R"({"time":"T","level":"error","msg":"a \"q\"\nb"})");
}
