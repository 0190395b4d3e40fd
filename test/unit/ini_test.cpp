#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "creds/ini.hpp"

using namespace awh;
using namespace std::string_literals;
using creds::check_parseable;
using creds::Credentials;
using creds::render_profile;
using creds::upsert_profile;

namespace {

Credentials make_creds(std::string id, std::string secret, std::string token) {
  Credentials c;
  c.access_key_id = std::move(id);
  c.secret_access_key = std::move(secret);
  c.session_token = std::move(token);
  c.expiration = "2025-01-15T10:30:00Z";
  return c;
}

const Credentials kNew = make_creds("AKIDNEW", "SECRETNEW", "TOKENNEW");

// Our three keys as inserted with "\n" endings and no indentation.
const std::string kKeys =
    "aws_access_key_id = AKIDNEW\naws_secret_access_key = SECRETNEW\naws_session_token = "
    "TOKENNEW\n";
const std::string kId = "aws_access_key_id = AKIDNEW\n";
const std::string kSecret = "aws_secret_access_key = SECRETNEW\n";
const std::string kToken = "aws_session_token = TOKENNEW\n";

std::string upsert(std::string_view existing, std::string_view profile = "default",
                   const Credentials& c = kNew) {
  auto r = upsert_profile(existing, profile, c);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  return *r;
}

struct Case {
  const char* what;
  std::string in;
  std::string out;
  const char* profile = "default";
};

void check_cases(std::initializer_list<Case> cases) {
  for (const auto& c : cases) {
    CAPTURE(c.what);
    CAPTURE(c.in);
    const auto out = upsert(c.in, c.profile);
    CHECK(out == c.out);
    CHECK(check_parseable(out).has_value());
    CHECK(upsert(out, c.profile) == out);  // idempotent
  }
}

// The error for `existing`, which must not parse; the same from check_parseable.
Error parse_error(std::string_view existing) {
  auto r = upsert_profile(existing, "default", kNew);
  REQUIRE_FALSE(r.has_value());
  auto checked = check_parseable(existing);
  REQUIRE_FALSE(checked.has_value());
  CHECK(checked.error().message == r.error().message);
  CHECK(r.error().cls == errc::invalid_input);
  return r.error();
}

}  // namespace

TEST_CASE("render_profile writes exactly our profile") {
  CHECK(render_profile("default", kNew) == "[default]\n" + kKeys);
  CHECK(render_profile("work-1", make_creds("A", "S", "T")) ==
        "[work-1]\naws_access_key_id = A\naws_secret_access_key = S\naws_session_token = T\n");
  CHECK(upsert("", "work-1") == render_profile("work-1", kNew));
}

TEST_CASE("a missing profile is appended after a blank line") {
  check_cases({
      {"empty file", "", "[default]\n" + kKeys},
      {"only a blank line", "\n", "\n[default]\n" + kKeys},
      {"only comments", "# hello\n; there\n", "# hello\n; there\n\n[default]\n" + kKeys},
      {"comment without newline", "# hello", "# hello\n\n[default]\n" + kKeys},
      {"other profile", "[a]\nregion = x\n", "[a]\nregion = x\n\n[default]\n" + kKeys},
      {"no trailing newline", "[a]\nregion = x", "[a]\nregion = x\n\n[default]\n" + kKeys},
      {"trailing blank line", "[a]\nregion = x\n\n", "[a]\nregion = x\n\n[default]\n" + kKeys},
      {"trailing blank lines", "[a]\nx = 1\n\n\n", "[a]\nx = 1\n\n\n[default]\n" + kKeys},
      {"trailing whitespace line without newline", "[a]\nx = 1\n  \t",
       "[a]\nx = 1\n  \t\n[default]\n" + kKeys},
      {"other profile named", "[default]\nx = 1\n", "[default]\nx = 1\n\n[work]\n" + kKeys, "work"},
      {"section names are case-sensitive", "[Default]\nx = 1\n",
       "[Default]\nx = 1\n\n[default]\n" + kKeys},
      {"'profile x' is not 'x'", "[profile x]\nx = 1\n", "[profile x]\nx = 1\n\n[x]\n" + kKeys,
       "x"},
      {"our keys in other profiles are untouched",
       "[a]\naws_access_key_id = KEEP\naws_session_token = KEEP\n",
       "[a]\naws_access_key_id = KEEP\naws_session_token = KEEP\n\n[default]\n" + kKeys},
      {"an indented header deeper than a key is a continuation, not our section",
       "[a]\nx = 1\n  [default]\n", "[a]\nx = 1\n  [default]\n\n[default]\n" + kKeys},
      {"file ending in a continuation", "[a]\ns3 =\n  x = 1",
       "[a]\ns3 =\n  x = 1\n\n[default]\n" + kKeys},
  });
}

TEST_CASE("existing values are replaced in place, keeping the prefix and line ending") {
  check_cases({
      {"no spaces",
       "[default]\naws_access_key_id=OLD\naws_secret_access_key=OLD\naws_session_token=OLD\n",
       "[default]\naws_access_key_id=AKIDNEW\naws_secret_access_key=SECRETNEW\n"
       "aws_session_token=TOKENNEW\n"},
      {"odd spacing",
       "[default]\n  aws_secret_access_key\t=\tOLD  \naws_access_key_id   =   OLD\n"
       "aws_session_token =\n",
       "[default]\n  aws_secret_access_key\t=\tSECRETNEW\naws_access_key_id   =   AKIDNEW\n"
       "aws_session_token =TOKENNEW\n"},
      {"':' delimiter",
       "[default]\naws_access_key_id: OLD\naws_secret_access_key :OLD\naws_session_token:OLD\n",
       "[default]\naws_access_key_id: AKIDNEW\naws_secret_access_key :SECRETNEW\n"
       "aws_session_token:TOKENNEW\n"},
      {"the first delimiter counts",
       "[default]\naws_access_key_id = a:b\naws_secret_access_key:x=y\naws_session_token = t==\n",
       "[default]\naws_access_key_id = AKIDNEW\naws_secret_access_key:SECRETNEW\n"
       "aws_session_token = TOKENNEW\n"},
      {"keys are case-insensitive",
       "[default]\nAWS_ACCESS_KEY_ID = OLD\nAws_Secret_Access_Key = OLD\naws_SESSION_token = OLD\n",
       "[default]\nAWS_ACCESS_KEY_ID = AKIDNEW\nAws_Secret_Access_Key = SECRETNEW\n"
       "aws_SESSION_token = TOKENNEW\n"},
      {"last line without newline stays without",
       "[default]\naws_access_key_id = O\naws_secret_access_key = O\naws_session_token = O",
       "[default]\naws_access_key_id = AKIDNEW\naws_secret_access_key = SECRETNEW\n"
       "aws_session_token = TOKENNEW"},
      {"order and other keys kept",
       "[default]\naws_session_token = O\nregion = eu-west-1\naws_access_key_id = O\n"
       "aws_secret_access_key = O\noutput = json\n",
       "[default]\naws_session_token = TOKENNEW\nregion = eu-west-1\naws_access_key_id = AKIDNEW\n"
       "aws_secret_access_key = SECRETNEW\noutput = json\n"},
      {"similar key names are not ours",
       "[default]\naws_access_key_id_2 = K\naws_access_key = K\n" + kKeys,
       "[default]\naws_access_key_id_2 = K\naws_access_key = K\n" + kKeys},
  });
}

TEST_CASE("[ default ] style headers name the profile") {
  check_cases({
      {"inner spaces", "[ default ]\naws_access_key_id = O\n",
       "[ default ]\naws_access_key_id = AKIDNEW\n" + kSecret + kToken},
      {"outer spaces", "  [default]  \naws_access_key_id = O\n",
       "  [default]  \naws_access_key_id = AKIDNEW\n" + kSecret + kToken},
      {"tabs", "\t[\tdefault\t]\t\n", "\t[\tdefault\t]\t\n" + kKeys},
      {"names with inner spaces", "[profile x]\n", "[profile x]\n" + kKeys, "profile x"},
  });
}

TEST_CASE("missing keys are inserted after the last key line of the section") {
  check_cases({
      {"section without keys, at the end", "[default]\n", "[default]\n" + kKeys},
      {"section without keys, no newline", "[default]", "[default]\n" + kKeys},
      {"section without keys, then another", "[default]\n[b]\nx = 1\n",
       "[default]\n" + kKeys + "[b]\nx = 1\n"},
      {"section without keys, comments stay after", "[default]\n\n# about b\n[b]\n",
       "[default]\n" + kKeys + "\n# about b\n[b]\n"},
      {"only the id", "[default]\nregion = x\naws_access_key_id = O\noutput = json\n\n[b]\n",
       "[default]\nregion = x\naws_access_key_id = AKIDNEW\noutput = json\n" + kSecret + kToken +
           "\n[b]\n"},
      {"only the token", "[default]\naws_session_token = O\n# end\n",
       "[default]\naws_session_token = TOKENNEW\n" + kId + kSecret + "# end\n"},
      {"id and token", "[default]\naws_access_key_id = O\naws_session_token = O\n",
       "[default]\naws_access_key_id = AKIDNEW\naws_session_token = TOKENNEW\n" + kSecret},
      {"last key without newline", "[default]\nregion = x", "[default]\nregion = x\n" + kKeys},
      {"after a replaced last line without newline", "[default]\naws_access_key_id = O",
       "[default]\naws_access_key_id = AKIDNEW\n" + kSecret + kToken},
      {"in the middle of the file", "[a]\nx = 1\n\n[default]\nregion = x\n\n[c]\ny = 2\n",
       "[a]\nx = 1\n\n[default]\nregion = x\n" + kKeys + "\n[c]\ny = 2\n"},
      {"indented keys: same indentation", "[default]\n  region = x\n  [b]\n",
       "[default]\n  region = x\n  aws_access_key_id = AKIDNEW\n  aws_secret_access_key = "
       "SECRETNEW\n"
       "  aws_session_token = TOKENNEW\n  [b]\n"},
      {"no keys, indented next header: its indentation", "[default]\n\t[b]\nx = 1\n",
       "[default]\n\taws_access_key_id = AKIDNEW\n\taws_secret_access_key = SECRETNEW\n"
       "\taws_session_token = TOKENNEW\n\t[b]\nx = 1\n"},
  });
}

TEST_CASE("continuation lines: removed with a replaced value, kept for other keys") {
  check_cases({
      {"replaced value's continuations removed",
       "[default]\naws_session_token = part1\n  part2\n\tpart3\nregion = x\n",
       "[default]\naws_session_token = TOKENNEW\nregion = x\n" + kId + kSecret},
      {"blank and comment lines among them are kept",
       "[default]\naws_session_token = p1\n  p2\n\n  # note\n; note 2\n  p3\nregion = x\n",
       "[default]\naws_session_token = TOKENNEW\n\n  # note\n; note 2\nregion = x\n" + kId +
           kSecret},
      {"nested s3 block kept, keys inserted after it",
       "[default]\nregion = x\ns3 =\n    max_concurrent_requests = 10\n"
       "    aws_access_key_id = NESTED\n\n[b]\n",
       "[default]\nregion = x\ns3 =\n    max_concurrent_requests = 10\n"
       "    aws_access_key_id = NESTED\n" +
           kKeys + "\n[b]\n"},
      {"continuation after blank and comment lines still continues",
       "[default]\ns3 =\n  a = 1\n\n# c\n  b = 2\n",
       "[default]\ns3 =\n  a = 1\n\n# c\n  b = 2\n" + kKeys},
      {"trailing comments of a block stay after the inserted keys",
       "[default]\ns3 =\n  a = 1\n\n# trailing\n[b]\n",
       "[default]\ns3 =\n  a = 1\n" + kKeys + "\n# trailing\n[b]\n"},
      {"continuation of a replaced value, then other key's block",
       "[default]\naws_access_key_id = a\n  b\ns3 =\n  x = 1\n",
       "[default]\naws_access_key_id = AKIDNEW\ns3 =\n  x = 1\n" + kSecret + kToken},
      {"an indented key continues the previous one",
       "[default]\nregion = x\n  aws_access_key_id = NOTAKEY\n",
       "[default]\nregion = x\n  aws_access_key_id = NOTAKEY\n" + kKeys},
      {"a continuation removed at the end without newline", "[default]\naws_access_key_id = a\n  b",
       "[default]\naws_access_key_id = AKIDNEW\n" + kSecret + kToken},
  });
}

TEST_CASE("other profiles, comments and keys stay byte-identical") {
  const std::string before =
      "# AWS credentials\n"
      "; managed in part by aws-workload-helper\n"
      "\n"
      "[other]\n"
      "aws_access_key_id = OTHERID\n"
      "aws_secret_access_key=OTHERSECRET\n"
      "\n"
      "[default]   \n"
      "  # the access key\n"
      "aws_access_key_id = OLDID\n"
      "region = eu-central-1\n"
      "   ; indented comment\n"
      "aws_secret_access_key = OLDSECRET\n"
      "aws_session_token = OLDTOKEN\n"
      "output=json\n"
      "\n"
      "[last]\n"
      "region: us-east-1";
  const std::string after =
      "# AWS credentials\n"
      "; managed in part by aws-workload-helper\n"
      "\n"
      "[other]\n"
      "aws_access_key_id = OTHERID\n"
      "aws_secret_access_key=OTHERSECRET\n"
      "\n"
      "[default]   \n"
      "  # the access key\n"
      "aws_access_key_id = AKIDNEW\n"
      "region = eu-central-1\n"
      "   ; indented comment\n"
      "aws_secret_access_key = SECRETNEW\n"
      "aws_session_token = TOKENNEW\n"
      "output=json\n"
      "\n"
      "[last]\n"
      "region: us-east-1";
  CHECK(upsert(before) == after);
  CHECK(upsert(after) == after);
  // The other profile gets its own keys; default stays as it was.
  const auto other = upsert(before, "other");
  CHECK(other ==
        "# AWS credentials\n"
        "; managed in part by aws-workload-helper\n"
        "\n"
        "[other]\n"
        "aws_access_key_id = AKIDNEW\n"
        "aws_secret_access_key=SECRETNEW\n" +
            kToken + before.substr(before.find("\n[default]")));
}

TEST_CASE("CRLF files get CRLF lines; existing lines keep their endings") {
  check_cases({
      {"append", "[a]\r\nx = 1\r\n",
       "[a]\r\nx = 1\r\n\r\n[default]\r\naws_access_key_id = AKIDNEW\r\n"
       "aws_secret_access_key = SECRETNEW\r\naws_session_token = TOKENNEW\r\n"},
      {"append without final newline", "[a]\r\nx = 1",
       "[a]\r\nx = 1\r\n\r\n[default]\r\naws_access_key_id = AKIDNEW\r\n"
       "aws_secret_access_key = SECRETNEW\r\naws_session_token = TOKENNEW\r\n"},
      {"replace and insert", "[default]\r\naws_access_key_id = O\r\nregion = x\r\n",
       "[default]\r\naws_access_key_id = AKIDNEW\r\nregion = x\r\n"
       "aws_secret_access_key = SECRETNEW\r\naws_session_token = TOKENNEW\r\n"},
      {"replace keeps each line's own ending",
       "[default]\r\naws_access_key_id = O\naws_secret_access_key = O\r\naws_session_token = O",
       "[default]\r\naws_access_key_id = AKIDNEW\naws_secret_access_key = SECRETNEW\r\n"
       "aws_session_token = TOKENNEW"},
      {"insert after a last line without newline", "[default]\r\nregion = x",
       "[default]\r\nregion = x\r\naws_access_key_id = AKIDNEW\r\n"
       "aws_secret_access_key = SECRETNEW\r\naws_session_token = TOKENNEW\r\n"},
      {"first line decides: LF", "[default]\nregion = x\r\n", "[default]\nregion = x\r\n" + kKeys},
      {"first line decides: CRLF", "# c\r\n[default]\nregion = x\n",
       "# c\r\n[default]\nregion = x\naws_access_key_id = AKIDNEW\r\n"
       "aws_secret_access_key = SECRETNEW\r\naws_session_token = TOKENNEW\r\n"},
      {"blank CRLF line counts as the separating blank line", "[a]\r\nx = 1\r\n\r\n",
       "[a]\r\nx = 1\r\n\r\n[default]\r\naws_access_key_id = AKIDNEW\r\n"
       "aws_secret_access_key = SECRETNEW\r\naws_session_token = TOKENNEW\r\n"},
  });
}

TEST_CASE("duplicates of our keys are removed: later lines and later same-named sections") {
  check_cases({
      {"duplicate key in the target section",
       "[default]\naws_access_key_id = A\nregion = x\naws_access_key_id = B\n  contB\n"
       "aws_secret_access_key = S\n",
       "[default]\naws_access_key_id = AKIDNEW\nregion = x\naws_secret_access_key = SECRETNEW\n" +
           kToken},
      {"duplicate key in another case", "[default]\naws_access_key_id = A\nAWS_ACCESS_KEY_ID = B\n",
       "[default]\naws_access_key_id = AKIDNEW\n" + kSecret + kToken},
      {"duplicate key last, missing keys go after the first one",
       "[default]\nregion = x\naws_access_key_id = A\naws_access_key_id = B\n[b]\n",
       "[default]\nregion = x\n" + kKeys + "[b]\n"},
      {"duplicate key last without newline",
       "[default]\naws_access_key_id = A\naws_access_key_id = B",
       "[default]\naws_access_key_id = AKIDNEW\n" + kSecret + kToken},
      {"duplicate section",
       "[default]\naws_access_key_id = OLD1\n\n[default]\nregion = x\naws_access_key_id = OLD2\n"
       "  cont\n# kept\naws_session_token = OLD2\noutput = json\n",
       "[default]\naws_access_key_id = AKIDNEW\n" + kSecret + kToken +
           "\n[default]\nregion = x\n# kept\noutput = json\n"},
      {"three sections, the first one is the target",
       "[ default ]\nx = 1\n[other]\naws_access_key_id = KEEP\n[default]\naws_session_token = O\n"
       "[default]\nAWS_SECRET_ACCESS_KEY = O\ny = 2\n",
       "[ default ]\nx = 1\n" + kKeys +
           "[other]\naws_access_key_id = KEEP\n[default]\n[default]\ny = 2\n"},
      {"other duplicates are left alone", "[default]\nregion = a\nregion = b\n[x]\n[x]\n",
       "[default]\nregion = a\nregion = b\n" + kKeys + "[x]\n[x]\n"},
  });
}

TEST_CASE("upserting twice equals upserting once with the final credentials") {
  const Credentials first = make_creds("AKID1", "SECRET1", "TOKEN1");
  for (const std::string& in : {""s, "[a]\nx = 1"s, "[default]\r\nregion = x\r\n"s,
                                "[default]\naws_session_token = O\n  more\n[default]\n"
                                "aws_access_key_id = X\n"s,
                                "# c\n[default]\n\ts3 =\n\t  a = 1\n"s}) {
    CAPTURE(in);
    const auto once = upsert(in);
    CHECK(upsert(upsert(in, "default", first)) == once);
    CHECK(upsert(once) == once);
  }
}

TEST_CASE("files that can't be parsed are errors naming the line") {
  CHECK(check_parseable("").has_value());
  CHECK(check_parseable("\n \t\n# c\n; c").has_value());
  CHECK(check_parseable("[a]\nx = 1\n\n  y\n").has_value());  // continuation after a blank line

  CHECK(parse_error("aws_access_key_id = x\n[default]\n").message ==
        "line 1: key outside any [section]");
  CHECK(parse_error("# c\n\n  region = x\n[default]\n").message ==
        "line 3: key outside any [section]");
  CHECK(parse_error("hello\n[default]\n").message == "line 1: key outside any [section]");
  CHECK(parse_error("[default]\nx = 1\n[other\n").message ==
        "line 3: section header without a closing ']'");
  CHECK(parse_error("[default] x = 1\n").message == "line 1: section header without a closing ']'");
  CHECK(parse_error("[\n").message == "line 1: section header without a closing ']'");
  CHECK(parse_error("[default]\n[ ]\n").message == "line 2: empty section name");
  CHECK(parse_error("[default]\n[]").message == "line 2: empty section name");
  CHECK(parse_error("[default]\nx = 1\ngarbage\n").message ==
        "line 3: expected 'key = value', a [section] header or a comment");
  CHECK(parse_error("[default]\n  garbage\n").message ==  // no key yet: not a continuation
        "line 2: expected 'key = value', a [section] header or a comment");
  CHECK(parse_error("[default]\r\n = x\r\n").message == "line 2: empty key name");
  CHECK(parse_error("[default]\n: x\n").message == "line 2: empty key name");
  CHECK(parse_error("[default]\nx = a\0b\n"s).message == "line 2: NUL byte");
  CHECK(parse_error("\0"s).message == "line 1: NUL byte");
  CHECK(parse_error("[default]\n# \0\n"s).message == "line 2: NUL byte");
  CHECK(parse_error("[default]\rx = 1\n").message ==
        "line 1: carriage return not followed by a line feed");
  CHECK(parse_error("[default]\nx = 1\r").message ==
        "line 2: carriage return not followed by a line feed");
}

TEST_CASE("parse errors never echo the file's contents") {
  const auto e = parse_error("[default]\naws_secret_access_key = SUPERSECRET\nSUPERSECRET2\n");
  CHECK(e.message == "line 3: expected 'key = value', a [section] header or a comment");
  CHECK(e.message.find("SUPERSECRET") == std::string::npos);
}

TEST_CASE("bad profile names are rejected") {
  for (const std::string& profile : {""s, " default"s, "default "s, "\tdefault"s, "de[f"s, "de]f"s,
                                     "[default]"s, "a\nb"s, "a\rb"s, "a\0b"s}) {
    CAPTURE(profile);
    auto r = upsert_profile("[a]\nx = 1\n", profile, kNew);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().cls == errc::invalid_input);
    CHECK(r.error().message.find("profile name") != std::string::npos);
    CHECK_FALSE(creds::validate_entry(profile, kNew).has_value());
  }
  CHECK(creds::validate_entry("profile x", kNew).has_value());
}

TEST_CASE("bad values are rejected without echoing them") {
  const std::string ok = "VALID";
  for (const std::string& bad : {"SE\nCRET"s, "SE\rCRET"s, "SE\r\nCRET"s, "SE\0CRET"s, "SECRET\n"s,
                                 " SECRET"s, "SECRET\t"s, ""s}) {
    for (int field = 0; field < 3; ++field) {
      CAPTURE(bad);
      CAPTURE(field);
      const Credentials c =
          make_creds(field == 0 ? bad : ok, field == 1 ? bad : ok, field == 2 ? bad : ok);
      auto r = upsert_profile("[default]\naws_access_key_id = O\n", "default", c);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().cls == errc::invalid_input);
      CHECK(r.error().message.find("SE") == std::string::npos);
      CHECK(r.error().message.find("CRET") == std::string::npos);
      const char* name = field == 0   ? "access key ID"
                         : field == 1 ? "secret access key"
                                      : "session token";
      CHECK(r.error().message.find(name) != std::string::npos);
      CHECK_FALSE(creds::validate_entry("default", c).has_value());
    }
  }
  // Characters that configparser keeps verbatim are fine.
  CHECK(upsert("", "default", make_creds("A#;", "a/b+c=", "t%o=k:e;n")) ==
        "[default]\naws_access_key_id = A#;\naws_secret_access_key = a/b+c=\n"
        "aws_session_token = t%o=k:e;n\n");
}
