#pragma once
// `--dry-run`: the request an exchange would send, as text for people (method and URL, the
// headers, the body, and for signed requests the canonical request and the string to sign).
// Pure. The caller passes only public data: the X.509 request holds certificates, never the
// key; a JWT goes in with its signature replaced (redact_jwt_signature).

#include <optional>
#include <string>
#include <string_view>

#include "aws/sigv4x509.hpp"
#include "net/http.hpp"
#include "net/url.hpp"

namespace awh::aws {

// "POST https://host/target", the header lines, a blank line, the body; then, when `signature`
// is given, "-- canonical request --" and "-- string to sign --" sections. Ends with a newline.
std::string request_text(const net::Url& endpoint, const net::HttpRequest& request,
                         const Signature* signature);

// A compact JWS "header.payload.signature" with the signature part replaced by
// "<signature redacted>": without it the token can't be replayed. Text that is not three
// dot-separated parts is replaced whole ("<token redacted>").
std::string redact_jwt_signature(std::string_view jwt);

}  // namespace awh::aws
