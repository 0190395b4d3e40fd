#pragma once
// One HTTP(S) exchange with a bounded time for every step (resolve, connect, TLS handshake,
// write, read). HTTPS verifies the peer chain against the system roots or a CA bundle and the
// host name (or IP address) against the certificate, with SNI and TLS >= 1.2.
// Runs on the io_context's thread; the object is used from one coroutine at a time.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "net/http.hpp"
#include "net/url.hpp"
#include "util/error.hpp"

namespace awh::net {

struct ClientOptions {
  std::string ca_bundle_path;  // PEM file; empty: the system trust store
  std::chrono::milliseconds step_timeout{10000};
  std::size_t max_body_bytes = 1 << 20;
};

class HttpClient {
 public:
  // Fails when the CA bundle can't be read or holds no certificate.
  static Result<std::unique_ptr<HttpClient>> create(ClientOptions options);

  // Sends `request` to `url` and reads the whole response. `deadline` caps every step.
  // Errors: errc::network (resolve/connect/reset), errc::timeout, errc::tls (handshake or
  // verification), errc::protocol (malformed or oversized response).
  boost::asio::awaitable<Result<HttpResponse>> send(const Url& url, HttpRequest request,
                                                    std::chrono::steady_clock::time_point deadline);

 private:
  explicit HttpClient(ClientOptions options);
  ClientOptions options_;
  boost::asio::ssl::context ssl_;
};

}  // namespace awh::net
