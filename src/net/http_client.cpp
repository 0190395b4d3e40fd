#include "net/http_client.hpp"

#include <fmt/format.h>
#include <openssl/ssl.h>

#include <algorithm>

#include "crypto/openssl.hpp"
#include "net/steps.hpp"
#include "util/atomic_file.hpp"
#include "util/text.hpp"

namespace awh::net {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// A CA bundle larger than this is refused (the system's whole store is about 200 KiB).
constexpr std::size_t kMaxCaBundle = 4 << 20;

std::string describe(const Url& url) {
  return fmt::format("{}://{}", url.tls ? "https" : "http", url.host_header());
}

// TLS (for https://) and the exchange over a connected stream, direct or tunnelled.
asio::awaitable<Result<HttpResponse>> finish(TcpStream stream, const Url& url, HttpRequest request,
                                             asio::ssl::context& ssl, const ClientOptions& options,
                                             Clock::time_point deadline) {
  const auto step_deadline = [&] {
    return std::min(deadline, Clock::now() + options.step_timeout);
  };
  if (!url.tls) {
    co_return co_await exchange(std::move(stream), std::move(request), options.max_body_bytes,
                                step_deadline());
  }
  auto tls = co_await tls_handshake(std::move(stream), ssl, url.host, step_deadline());
  if (!tls) co_return tls.error();
  co_return co_await exchange(std::move(*tls), std::move(request), options.max_body_bytes,
                              step_deadline());
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
    // Read by us, not by OpenSSL's path API: a FIFO or a device there is refused unread, never
    // opened in a way that blocks (util::read_file_if_exists).
    const std::string& path = client->options_.ca_bundle_path;
    auto pem = util::read_file_if_exists(path, kMaxCaBundle);
    if (!pem || !*pem) {
      return make_error(errc::invalid_input,
                        fmt::format("cannot load CA bundle '{}': {}", util::escape_text(path),
                                    pem ? "No such file or directory" : pem.error().message));
    }
    client->ssl_.add_certificate_authority(asio::buffer(**pem), ec);
    if (ec) {
      return make_error(errc::invalid_input,
                        fmt::format("cannot load CA bundle '{}': it must be a readable PEM file of "
                                    "CA certificates ({})",
                                    util::escape_text(path), ec.message()));
    }
  }
  return client;
}

asio::awaitable<Result<HttpResponse>> HttpClient::send(const Url& url, HttpRequest request,
                                                       Clock::time_point deadline) {
  const auto step_deadline = [&] {
    return std::min(deadline, Clock::now() + options_.step_timeout);
  };
  const Proxy* proxy = proxy_for(options_.proxy, url);
  const std::string prefix =
      proxy ? fmt::format("{}: via proxy {}: ", describe(url), proxy->display())
            : describe(url) + ": ";
  const auto failed = [&](const Error& e) { return e.prefixed(prefix); };
  if (Clock::now() >= deadline) {
    co_return make_error(errc::timeout,
                         fmt::format("{}: out of time before connecting", describe(url)));
  }

  auto endpoints = co_await resolve(options_.resolver, proxy ? proxy->host : url.host,
                                    proxy ? proxy->port : url.port, step_deadline());
  if (!endpoints) co_return failed(endpoints.error());
  auto connection = co_await connect(std::move(*endpoints), step_deadline());
  if (!connection) co_return failed(connection.error());
  if (proxy) {
    connection =
        co_await tunnel(std::move(*connection), *proxy, url.host, url.port, step_deadline());
    if (!connection) co_return failed(connection.error());
  }
  auto response =
      co_await finish(std::move(*connection), url, std::move(request), ssl_, options_, deadline);
  if (!response) co_return failed(response.error());
  co_return response;
}

}  // namespace awh::net
