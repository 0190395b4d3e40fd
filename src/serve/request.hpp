#pragma once
// The fields route() reads (serve/routes.hpp), taken from a request Beast parsed. Shared by the
// listener (serve/server.cpp) and the request fuzz target, so that both read the same headers.

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "serve/routes.hpp"

namespace awh::serve {

// Views into `req`: it must outlive the returned Request.
inline Request request_view(
    const boost::beast::http::request<boost::beast::http::string_body>& req) {
  namespace http = boost::beast::http;
  Request request;
  request.method = req.method_string();
  request.target = req.target();
  if (auto it = req.find(http::field::authorization); it != req.end())
    request.authorization = it->value();
  if (auto it = req.find("X-aws-ec2-metadata-token"); it != req.end())
    request.imds_token = it->value();
  if (auto it = req.find("X-aws-ec2-metadata-token-ttl-seconds"); it != req.end())
    request.imds_ttl = it->value();
  request.forwarded = req.find("X-Forwarded-For") != req.end();
  return request;
}

}  // namespace awh::serve
