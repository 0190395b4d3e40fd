#include "net/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "util/log.hpp"

namespace awh::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace asio::experimental::awaitable_operators;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

std::string describe(const Url& url) {
  return fmt::format("{}://{}", url.tls ? "https" : "http", url.host_header());
}

Error net_error(const Url& url, std::string_view step, const boost::system::error_code& ec) {
  if (ec == beast::error::timeout || ec == asio::error::timed_out) {
    return make_error(errc::timeout, fmt::format("{}: {} timed out", describe(url), step));
  }
  return make_error(errc::network,
                    fmt::format("{}: {} failed: {}", describe(url), step, ec.message()));
}

template <class Stream>
asio::awaitable<Result<HttpResponse>> exchange(Stream& stream, const Url& url, HttpRequest request,
                                               std::size_t max_body, auto set_timeout) {
  http::request<http::string_body> req;
  req.method_string(request.method);
  req.target(request.target);
  req.version(11);
  for (auto& [name, value] : request.headers) req.set(name, value);
  req.set(http::field::connection, "close");
  req.body() = std::move(request.body);
  req.prepare_payload();

  set_timeout();
  if (auto [ec, n] = co_await http::async_write(stream, req, kUseTuple); ec) {
    co_return net_error(url, "sending the request", ec);
  }

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body);
  set_timeout();
  if (auto [ec, n] = co_await http::async_read(stream, buffer, parser, kUseTuple); ec) {
    if (ec == http::error::body_limit) {
      co_return make_error(errc::protocol, fmt::format("{}: response body exceeds {} bytes",
                                                       describe(url), max_body));
    }
    const bool beast_http_error = ec.category() == make_error_code(http::error::end_of_stream).category();
    if (beast_http_error && ec != http::error::end_of_stream && ec != http::error::partial_message) {
      co_return make_error(errc::protocol,
                           fmt::format("{}: malformed HTTP response: {}", describe(url), ec.message()));
    }
    co_return net_error(url, "reading the response", ec);
  }
  auto& res = parser.get();
  HttpResponse out;
  out.status = res.result_int();
  for (const auto& field : res) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = std::move(res.body());
  co_return out;
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
    client->ssl_.set_default_verify_paths(ec);
    if (ec) return make_error(errc::tls, fmt::format("cannot load the system trust store: {}", ec.message()));
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
  auto executor = co_await asio::this_coro::executor;
  const auto step = [&]() -> std::chrono::milliseconds {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return std::max(std::chrono::milliseconds(1), std::min(left, options_.step_timeout));
  };
  if (Clock::now() >= deadline) {
    co_return make_error(errc::timeout, fmt::format("{}: out of time before connecting", describe(url)));
  }

  // Resolve, bounded by a timer (the resolver has no timeout of its own).
  tcp::resolver resolver(executor);
  asio::steady_timer timer(executor, step());
  auto raced = co_await (resolver.async_resolve(url.host, url.port, kUseTuple) ||
                         timer.async_wait(kUseTuple));
  if (raced.index() == 1) {
    co_return make_error(errc::timeout, fmt::format("{}: resolving {} timed out", describe(url), url.host));
  }
  auto [rec, endpoints] = std::get<0>(std::move(raced));
  if (rec) co_return net_error(url, fmt::format("resolving {}", url.host), rec);

  beast::tcp_stream tcp_stream(executor);
  tcp_stream.expires_after(step());
  if (auto [ec, ep] = co_await tcp_stream.async_connect(endpoints, kUseTuple); ec) {
    co_return net_error(url, "connecting", ec);
  }

  if (!url.tls) {
    auto result = co_await exchange(tcp_stream, url, std::move(request), options_.max_body_bytes,
                                    [&] { tcp_stream.expires_after(step()); });
    boost::system::error_code ignored;  // closing a finished connection; nothing to report
    tcp_stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return result;
  }

  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), ssl_);
  SSL* ssl = stream.native_handle();
  boost::system::error_code addr_ec;
  (void)asio::ip::make_address(url.host, addr_ec);  // only "is it an IP literal?" matters
  if (addr_ec) {
    // A host name: send SNI (RFC 6066 forbids it for IP literals) and verify the name.
    if (SSL_set_tlsext_host_name(ssl, url.host.c_str()) != 1 || SSL_set1_host(ssl, url.host.c_str()) != 1) {
      co_return make_error(errc::tls, "cannot set the TLS server name");
    }
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  } else if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str()) != 1) {
    co_return make_error(errc::tls, "cannot set the TLS peer address to verify");
  }

  beast::get_lowest_layer(stream).expires_after(step());
  if (auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kUseTuple); ec) {
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      co_return make_error(errc::tls, fmt::format("{}: TLS certificate verification failed: {}",
                                                  describe(url), X509_verify_cert_error_string(verify)));
    }
    // A TLS-level refusal (protocol version, cipher, alert) is final; a connection that was
    // reset or closed mid-handshake (load balancer, restart) is transient and retried.
    if (ec.category() == asio::error::get_ssl_category()) {
      co_return make_error(errc::tls, fmt::format("{}: TLS handshake failed: {}", describe(url), ec.message()));
    }
    co_return net_error(url, "TLS handshake", ec);
  }
  auto result = co_await exchange(stream, url, std::move(request), options_.max_body_bytes,
                                  [&] { beast::get_lowest_layer(stream).expires_after(step()); });
  // No TLS close_notify round trip: the response is complete and the connection is ours alone.
  boost::system::error_code ignored;
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return result;
}

}  // namespace awh::net
