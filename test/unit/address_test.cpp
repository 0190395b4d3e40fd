#include <doctest/doctest.h>

#include <string>

#include "spiffe/address.hpp"

using namespace awh;

TEST_CASE("Workload API addresses translate to gRPC targets") {
  CHECK(*spiffe::workload_api_target("unix:///run/spire/agent.sock", "x") ==
        "unix:/run/spire/agent.sock");
  CHECK(*spiffe::workload_api_target("unix:/tmp/a.sock", "x") == "unix:/tmp/a.sock");
  CHECK(*spiffe::workload_api_target("tcp://127.0.0.1:8081", "x") == "ipv4:127.0.0.1:8081");
  CHECK(*spiffe::workload_api_target("tcp://[::1]:8081", "x") == "ipv6:[::1]:8081");
}

TEST_CASE("bad Workload API addresses name the source and the problem") {
  auto bad = spiffe::workload_api_target("http://x", "--workload-api-addr");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message.rfind("--workload-api-addr: 'http://x'", 0) == 0);
  CHECK(bad.error().message.find("scheme") != std::string::npos);
  for (const char* a :
       {"", "/tmp/a.sock", "unix://host/tmp/a.sock", "unix:relative.sock", "unix:///",
        "unix:///tmp/a.sock?x=1", "unix:///tmp/a.sock#f", "tcp://localhost:8081", "tcp://127.0.0.1",
        "tcp://127.0.0.1:0", "tcp://127.0.0.1:70000", "tcp://127.0.0.1:8081/path",
        "tcp://user@127.0.0.1:8081", "tcp://[::1]8081"}) {
    CAPTURE(a);
    auto r = spiffe::workload_api_target(a, "SPIFFE_ENDPOINT_SOCKET");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("SPIFFE_ENDPOINT_SOCKET") != std::string::npos);
  }
}

TEST_CASE("an IP with a NUL or other bytes after it is not an IP (found by fuzz_address)") {
  using namespace std::string_literals;
  for (const std::string& a : {"tcp://::852\0junk+[]:4"s, "tcp://[::1\0x]:8081"s,
                               "tcp://127.0.0.1\0:8081"s, "tcp://[::1%lo]:8081"s}) {
    CAPTURE(a);
    CHECK_FALSE(spiffe::workload_api_target(a, "x").has_value());
  }
  CHECK(*spiffe::workload_api_target("tcp://[::ffff:10.0.0.1]:1", "x") ==
        "ipv6:[::ffff:10.0.0.1]:1");
}
