#pragma once
// AWS error answers, shared by the Roles Anywhere (JSON) and STS (Query/XML) clients: which codes
// mean throttling, how an answer is classified, and the one-line message. Pure.

#include <string_view>

#include "util/error.hpp"

namespace awh::aws {

// AWS throttling error codes, across the JSON and Query protocols (botocore's retry handler
// treats the same list as throttling: botocore/retries/standard.py, _THROTTLED_ERROR_CODES).
bool is_throttling_code(std::string_view code);

// 429 or a throttling code -> throttled; 5xx or IDPCommunicationError (STS could not reach the
// identity provider; its API reference says the request can be retried) -> server; else denied.
errc classify_aws_error(unsigned http_status, std::string_view code);

// "Code: message (HTTP n)" (without a code: "HTTP n: message (HTTP n)"), classified, with the
// status and code kept on the error. The code and the message come from the peer: they are escaped
// and cut to a bounded length.
Error make_aws_error(unsigned http_status, std::string_view code, std::string_view message);

}  // namespace awh::aws
