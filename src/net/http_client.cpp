#include "net/http_client.hpp"

#include <fmt/format.h>
#include <openssl/ssl.h>

#include <algorithm>

#include "crypto/openssl.hpp"
#include "net/steps.hpp"

namespace awh::net {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

std::string describe(const Url& url) {
  return fmt::format("{}://{}", url.tls ? "https" : "http", url.host_header());
}

}  // namespace

HttpClient::HttpClient(ClientOptions options)
    : options_(std::move(options)), ssl_(asio::ssl::context::tls_client) {}

Result<std::unique_ptr<HttpClient>> HttpClient::create(ClientOptions options) {
  std::unique_ptr<HttpClient> client(new HttpClient(std::move(options)));
  SSL_CTX* ctx = client->ssl_.native_handle();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    return make_error(errc::tls, "cannot require TLS 1.2");
  }
  client->ssl_.set_verify_mode(asio::ssl::verify_peer);
  boost::system::error_code ec;
  if (client->options_.ca_bundle_path.empty()) {
    // The hashed directory: CAs are read when a chain needs them, not all kept in memory.
    if (auto loaded = crypto::use_system_trust_store(SSL_CTX_get_cert_store(ctx)); !loaded) {
      return make_error(
          errc::tls, fmt::format("cannot load the system trust store: {}", loaded.error().message));
    }
  } else {
    client->ssl_.load_verify_file(client->options_.ca_bundle_path, ec);
    if (ec) {
      return make_error(errc::invalid_input,
                        fmt::format("cannot load CA bundle '{}': it must be a readable PEM file of "
                                    "CA certificates ({})",
                                    client->options_.ca_bundle_path, ec.message()));
    }
  }
  return client;
}

asio::awaitable<Result<HttpResponse>> HttpClient::send(const Url& url, HttpRequest request,
                                                       Clock::time_point deadline) {
  const auto step_deadline = [&] {
    return std::min(deadline, Clock::now() + options_.step_timeout);
  };
  const auto failed = [&](const Error& e) { return e.prefixed(describe(url) + ": "); };
  if (Clock::now() >= deadline) {
    co_return make_error(errc::timeout,
                         fmt::format("{}: out of time before connecting", describe(url)));
  }

  auto endpoints = co_await resolve(options_.resolver, url.host, url.port, step_deadline());
  if (!endpoints) co_return failed(endpoints.error());

  // Connect: direct for now. A proxy step (HTTP CONNECT through a configured proxy) slots in
  // here: it connects to the proxy instead, asks it for a tunnel to url.host:url.port and
  // returns the same TcpStream, so the TLS handshake (still with url.host) and the exchange run
  // over it unchanged.
  auto connection = co_await connect(std::move(*endpoints), step_deadline());
  if (!connection) co_return failed(connection.error());

  if (!url.tls) {
    auto response = co_await exchange(std::move(*connection), std::move(request),
                                      options_.max_body_bytes, step_deadline());
    if (!response) co_return failed(response.error());
    co_return response;
  }

  auto tls = co_await tls_handshake(std::move(*connection), ssl_, url.host, step_deadline());
  if (!tls) co_return failed(tls.error());
  auto response = co_await exchange(std::move(*tls), std::move(request), options_.max_body_bytes,
                                    step_deadline());
  if (!response) co_return failed(response.error());
  co_return response;
}

}  // namespace awh::net
