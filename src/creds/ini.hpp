#pragma once
// Byte-preserving edits of the AWS shared credentials file (ARCHITECTURE.md, "Credentials file").
// Pure functions: text in, text out; no I/O. Errors are errc::invalid_input with a one-line
// message "line N: <what is wrong>" (or naming the bad argument). Messages never contain line
// contents or credential values.
//
// Grammar. botocore reads the file with Python's configparser.RawConfigParser(strict=True), so
// lines are classified the way RawConfigParser._read does, in this order, except where being
// stricter is safer (marked "stricter"):
//  - Lines end in "\n" or "\r\n" and each keeps its own ending; the last line may lack one.
//    A NUL byte is an error; so is a "\r" not followed by "\n" (stricter: Python's universal
//    newlines would split the line there, and we would disagree about line numbers).
//  - Blank: only whitespace (space, \t, \v, \f).
//  - Comment: the first non-whitespace character is '#' or ';' (anywhere, also among
//    continuation lines).
//  - Continuation: any other line indented deeper than the last key line of the current
//    section (multi-line values, e.g. `s3 =` then `    max_concurrent_requests = 10`). This is
//    checked before the rules below, as configparser does, so such a line is never a key or a
//    header of its own. Blank and comment lines don't end a run of continuations.
//  - Header: the trimmed line starts with '[' and ends with ']'; the name is the text between,
//    trimmed (`[ default ]` is profile "default", as the Go and Java SDKs read it; configparser
//    would keep the spaces). Names compare case-sensitively. A '[' line without the closing ']'
//    and an empty name are errors (stricter: configparser ignores text after the ']').
//  - Key: `key <ws> (=|:) <ws> value`; the key is the text before the first '=' or ':',
//    trimmed, compared ASCII-case-insensitively (configparser lowercases option names). An
//    empty key is an error.
//  - Anything else is an error, as is any non-blank, non-comment line before the first header.
//    An empty file, or one with only blank and comment lines, is fine.
//
// Editing. Only the target profile, the FIRST section named `profile`, and our three keys
// (aws_access_key_id, aws_secret_access_key, aws_session_token) change:
//  - The first line of each of our keys keeps its `key<ws>=<ws>` prefix (indentation included)
//    and its line ending; only the value after it is replaced. The old value's continuation
//    lines are removed; blank and comment lines among them are kept.
//  - Duplicates: a later line of one of our keys in the target section, and our keys in every
//    later section with the same name, are removed with their continuation lines. Lenient
//    readers let the last value win, which would be stale; strict configparser rejects the file
//    (DuplicateOptionError, DuplicateSectionError). Everything else there is kept.
//  - Missing keys are inserted as `key = value`, in the order above, right after the last kept
//    key line of the target section and its continuations, or right after the header if the
//    section has no keys. They take the indentation of that key line (in a section without keys,
//    of the next header), so that no line after them turns into a continuation of their value.
//  - No target section: `[profile]` and the three keys are appended, after a line ending if the
//    file doesn't end with one, and after a blank line if it doesn't already end with one.
//  - Lines we add end in "\r\n" if the file's first line does, else "\n". A last line without
//    a line ending stays so unless we add lines after it.
//
// Arguments (validate_entry): the profile name follows check_profile_name. Values must be
// non-empty, without line breaks or NUL (they would inject lines) and without surrounding
// whitespace (configparser strips it, so the value read back would differ).

#include <string>
#include <string_view>

#include "creds/credentials.hpp"
#include "util/error.hpp"

namespace awh::creds {

// The profile-name rule, the one place it is written (the CLI checks --profile with it): 1..256
// bytes, no surrounding whitespace, no '[' or ']' (it becomes a `[name]` header), no control
// characters (line breaks, NUL) or DEL.
inline constexpr std::size_t kMaxProfileName = 256;
Result<void> check_profile_name(std::string_view profile);

// Checks `profile` and `c`'s three values against the rules above.
Result<void> validate_entry(std::string_view profile, const Credentials& c);

// The new file contents: `existing` with profile `profile`'s aws_access_key_id,
// aws_secret_access_key and aws_session_token set to `c`'s values, every other byte kept.
// Errors: `existing` can't be parsed ("line N: ..."), or validate_entry fails.
Result<std::string> upsert_profile(std::string_view existing, std::string_view profile,
                                   const Credentials& c);

// A file holding only our profile, with "\n" line endings (for --replace, --force on a broken
// file, or a new file). Equal to upsert_profile("", profile, c). Does not validate: call
// validate_entry first, or a value with a line break would inject lines into the file.
std::string render_profile(std::string_view profile, const Credentials& c);

// Parses `existing` and reports the first error, if any (to fail fast at start-up).
Result<void> check_parseable(std::string_view existing);

}  // namespace awh::creds
