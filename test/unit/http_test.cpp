#include <doctest/doctest.h>

#include "net/http.hpp"

using namespace awh;

TEST_CASE("response headers are looked up case-insensitively") {
  net::HttpResponse r{200, {{"X-Amzn-ErrorType", "A"}, {"x-amzn-errortype", "B"}}, ""};
  CHECK(r.header("x-amzn-ERRORTYPE") == "A");
  CHECK(r.header("missing").empty());
}
