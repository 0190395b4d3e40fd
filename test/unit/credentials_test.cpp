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
