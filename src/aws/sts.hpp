#pragma once
// STS AssumeRoleWithWebIdentity (AWS STS API reference "AssumeRoleWithWebIdentity"; the AWS Query
// protocol: a form-encoded POST, an XML answer): building the request and reading the response
// for the JWT-SVID path. Pure functions; the I/O and retries live with the client.

#include <optional>
#include <string>
#include <string_view>

#include "creds/credentials.hpp"
#include "net/http.hpp"
#include "net/url.hpp"
#include "util/error.hpp"

namespace awh::aws {

struct WebIdentityParams {
  std::optional<std::string> role_arn;
  std::optional<std::string> role_session_name;
  int duration_seconds = 3600;
};

// POST to the endpoint's base path ("/" when it has none) with the form-encoded body
// Action=AssumeRoleWithWebIdentity&Version=2011-06-15&DurationSeconds=N[&RoleArn=…]
// [&RoleSessionName=…]&WebIdentityToken=<token>. The token travels only in the body, never in
// the target or a header (URLs get logged by proxies). The request body is
// therefore secret: callers must not log it and should wipe it when done.
net::HttpRequest build_assume_role_with_web_identity(const net::Url& endpoint,
                                                     const WebIdentityParams& params,
                                                     std::string_view token);

// 2xx with AssumeRoleWithWebIdentityResponse/AssumeRoleWithWebIdentityResult/Credentials ->
// the credentials (Expiration verbatim). Elements are matched by local name, whatever their
// namespace prefix.
// An ErrorResponse/Error (or ErrorResponse/Errors/Error) -> "Code: Message (HTTP n)",
// errc::throttled for 429 and throttling codes, errc::server for 5xx and IDPCommunicationError
// (both retryable), else errc::denied. Any other non-2xx -> "HTTP n" plus a short sanitized excerpt
// of the body, classified the same way by status. A 2xx that is not XML or lacks an element ->
// errc::protocol naming it. The parser's copy of the body is wiped; messages never contain the
// credentials.
Result<creds::Credentials> parse_assume_role_with_web_identity_response(
    const net::HttpResponse& response);

}  // namespace awh::aws
