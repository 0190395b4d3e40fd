#pragma once
// One HTTP(S) request, as a sequence of steps each bounded in time: resolve (net/resolve.hpp),
// connect, TLS handshake, exchange (net/steps.hpp). HTTPS verifies the peer chain against the
// system roots or a CA bundle and the host name (or IP address) against the certificate, with
// SNI and TLS >= 1.2.
// Runs on the io_context's thread; the object is used from one coroutine at a time and must
// outlive every send() it starts.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "net/http.hpp"
#include "net/proxy.hpp"
#include "net/resolve.hpp"
#include "net/url.hpp"
#include "util/error.hpp"

namespace awh::net {

struct ClientOptions {
  std::string ca_bundle_path;  // PEM file; empty: the system trust store
  // Each step's budget; a step also ends at send()'s overall deadline, whichever comes first.
  std::chrono::milliseconds step_timeout{10000};
  std::size_t max_body_bytes = 1 << 20;
  // Name lookup; tests inject one that fails or hangs.
  Resolver resolver = resolve_with_getaddrinfo;
  // The proxy for https:// endpoints, and the hosts that bypass it (net/proxy.hpp).
  ProxySettings proxy;
};

class HttpClient {
 public:
  // Fails when the CA bundle can't be read or holds no certificate.
  static Result<std::unique_ptr<HttpClient>> create(ClientOptions options);

  // Sends `request` to `url` and reads the whole response. Each step ends by the smaller of
  // now + step_timeout and `deadline`.
  // Errors (messages start with "<scheme>://<host[:port]>: ", plus "via proxy <url>: " when
  // proxied, the password redacted): errc::network (resolve, connect,
  // reset, early close), errc::timeout, errc::tls (handshake refused or verification failed),
  // errc::protocol (malformed or oversized response); see the steps for the details.
  boost::asio::awaitable<Result<HttpResponse>> send(const Url& url, HttpRequest request,
                                                    std::chrono::steady_clock::time_point deadline);

 private:
  explicit HttpClient(ClientOptions options);

  ClientOptions options_;
  boost::asio::ssl::context ssl_;
};

}  // namespace awh::net
