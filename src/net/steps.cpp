#include "net/steps.hpp"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>

#include "util/secret.hpp"
#include "util/text.hpp"

namespace awh::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// A failed step as the common contract in steps.hpp states it.
Error step_error(std::string_view step, const boost::system::error_code& ec) {
  if (ec == beast::error::timeout || ec == asio::error::timed_out) {
    return make_error(errc::timeout, fmt::format("{} timed out", step));
  }
  Error e = make_error(errc::network, fmt::format("{} failed: {}", step, ec.message()));
  if (ec.category() == boost::system::system_category()) e.sys_errno = ec.value();
  return e;
}

// Failures of the steps that return a stream. Explicit: Beast's basic_stream has an
// unconstrained variadic constructor, so result<TcpStream, Error>'s converting constructor
// cannot tell an Error from stream arguments.
template <class Stream>
Result<Stream> fail(Error e) {
  return Result<Stream>(boost::system::in_place_error, std::move(e));
}

TcpStream& tcp_layer(TcpStream& stream) { return stream; }
TcpStream& tcp_layer(TlsStream& stream) { return beast::get_lowest_layer(stream); }

// The exchange over a plain or TLS stream; instantiated only by the two exchange() overloads.
template <class Stream>
asio::awaitable<Result<HttpResponse>> exchange_over(Stream& stream, HttpRequest request,
                                                    std::size_t max_body_bytes,
                                                    Clock::time_point deadline) {
  http::request<http::string_body> req;
  req.method_string(request.method);
  req.target(request.target);
  req.version(11);
  for (auto& [name, value] : request.headers) req.set(name, value);
  req.set(http::field::connection, "close");
  req.body() = std::move(request.body);
  req.prepare_payload();

  // One expiry for the write and the read: Beast keeps it for every operation until changed.
  tcp_layer(stream).expires_at(deadline);
  if (auto [ec, n] = co_await http::async_write(stream, req, kUseTuple); ec) {
    co_return step_error("sending the request", ec);
  }

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body_bytes);
  if (auto [ec, n] = co_await http::async_read(stream, buffer, parser, kUseTuple); ec) {
    if (ec == http::error::body_limit) {
      co_return make_error(errc::protocol,
                           fmt::format("response body exceeds {} bytes", max_body_bytes));
    }
    // Beast's parse errors (bad status line, bad chunk, ...) mean the peer is not speaking HTTP
    // as we need it; a connection that ends early (end_of_stream: before any byte,
    // partial_message: mid-headers or mid-body) is a network failure, worth a retry.
    const bool parse_error =
        ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message;
    if (parse_error) {
      co_return make_error(errc::protocol,
                           fmt::format("malformed HTTP response: {}", ec.message()));
    }
    co_return step_error("reading the response", ec);
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

void shut_down(TcpStream& stream) {
  boost::system::error_code ignored;  // closing a finished connection; nothing to report
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace

Endpoints interleave_families(Endpoints endpoints) {
  if (endpoints.empty()) return endpoints;
  const bool first_v6 = endpoints.front().address().is_v6();
  Endpoints same, other, out;
  for (auto& e : endpoints) (e.address().is_v6() == first_v6 ? same : other).push_back(e);
  for (std::size_t i = 0; i < std::max(same.size(), other.size()); ++i) {
    if (i < same.size()) out.push_back(same[i]);
    if (i < other.size()) out.push_back(other[i]);
  }
  return out;
}

asio::awaitable<Result<TcpStream>> connect(Endpoints endpoints, Clock::time_point deadline,
                                           std::chrono::milliseconds per_address) {
  if (endpoints.empty())
    co_return fail<TcpStream>(make_error(errc::network, "connecting failed: no address"));
  const auto order = interleave_families(std::move(endpoints));
  boost::system::error_code last;
  for (std::size_t i = 0; i < order.size(); ++i) {
    TcpStream stream(co_await asio::this_coro::executor);
    const bool final_attempt = i + 1 == order.size();
    stream.expires_at(final_attempt ? deadline : std::min(deadline, Clock::now() + per_address));
    auto [ec] = co_await stream.async_connect(order[i], kUseTuple);
    if (!ec) {
      stream.expires_never();
      co_return std::move(stream);
    }
    last = ec;
    if (Clock::now() >= deadline) {
      co_return fail<TcpStream>(make_error(errc::timeout, "connecting timed out"));
    }
  }
  Error e = step_error("connecting", last);
  if (order.size() > 1) e.message += fmt::format(" ({} addresses tried)", order.size());
  co_return fail<TcpStream>(std::move(e));
}

asio::awaitable<Result<TcpStream>> tunnel(TcpStream stream, const Proxy& proxy, std::string host,
                                          std::string port, Clock::time_point deadline) {
  std::string request = connect_request(proxy, host, port);
  stream.expires_at(deadline);
  auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(request), kUseTuple);
  util::wipe(request);
  if (write_ec) co_return fail<TcpStream>(step_error("opening the tunnel", write_ec));

  // Only the header: a 2xx answer to CONNECT has no body (RFC 9110 §9.3.6), and the bytes after
  // it belong to the tunnel.
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> parser;
  parser.header_limit(16 * 1024);
  if (auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kUseTuple); ec) {
    if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      co_return fail<TcpStream>(make_error(
          errc::protocol, fmt::format("malformed answer from the proxy: {}", ec.message())));
    }
    co_return fail<TcpStream>(step_error("opening the tunnel", ec));
  }
  const auto& res = parser.get();
  const unsigned status = res.result_int();
  if (status < 200 || status > 299) {
    Error e = make_error(
        errc::network,
        fmt::format(
            "the proxy refused the tunnel to {}: HTTP {} {}{}",
            host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                                : fmt::format("{}:{}", host, port),
            status, util::escape_text(std::string_view(res.reason()), 100),
            status == 407 || status == 401
                ? (proxy.user.empty() ? " (the proxy wants a user name and password in the "
                                        "proxy URL)"
                                      : " (check the user name and password in the proxy URL)")
                : ""));
    e.http_status = status;
    co_return fail<TcpStream>(std::move(e));
  }
  if (buffer.size() != 0) {
    co_return fail<TcpStream>(make_error(
        errc::protocol, "malformed answer from the proxy: data after the 2xx answer to CONNECT"));
  }
  stream.expires_never();
  co_return std::move(stream);
}

asio::awaitable<Result<TlsStream>> tls_handshake(TcpStream tcp_stream, asio::ssl::context& context,
                                                 std::string host, Clock::time_point deadline) {
  TlsStream stream(std::move(tcp_stream), context);
  SSL* ssl = stream.native_handle();
  boost::system::error_code addr_ec;
  (void)asio::ip::make_address(host, addr_ec);  // only "is it an IP literal?" matters
  if (addr_ec) {
    // A host name: send SNI (RFC 6066 forbids it for IP literals) and verify the name.
    if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 || SSL_set1_host(ssl, host.c_str()) != 1) {
      co_return fail<TlsStream>(make_error(errc::tls, "cannot set the TLS server name"));
    }
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  } else if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) != 1) {
    co_return fail<TlsStream>(make_error(errc::tls, "cannot set the TLS peer address to verify"));
  }

  beast::get_lowest_layer(stream).expires_at(deadline);
  if (auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kUseTuple); ec) {
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      co_return fail<TlsStream>(
          make_error(errc::tls, fmt::format("TLS certificate verification failed: {}",
                                            X509_verify_cert_error_string(verify))));
    }
    // A TLS-level refusal (protocol version, cipher, alert) is final; a connection that was
    // reset or closed mid-handshake (load balancer, restart) is transient and retried.
    if (ec.category() == asio::error::get_ssl_category()) {
      co_return fail<TlsStream>(
          make_error(errc::tls, fmt::format("TLS handshake failed: {}", ec.message())));
    }
    co_return fail<TlsStream>(step_error("TLS handshake", ec));
  }
  beast::get_lowest_layer(stream).expires_never();
  co_return std::move(stream);
}

asio::awaitable<Result<HttpResponse>> exchange(TcpStream stream, HttpRequest request,
                                               std::size_t max_body_bytes,
                                               Clock::time_point deadline) {
  auto result = co_await exchange_over(stream, std::move(request), max_body_bytes, deadline);
  shut_down(stream);
  co_return result;
}

asio::awaitable<Result<HttpResponse>> exchange(TlsStream stream, HttpRequest request,
                                               std::size_t max_body_bytes,
                                               Clock::time_point deadline) {
  auto result = co_await exchange_over(stream, std::move(request), max_body_bytes, deadline);
  shut_down(beast::get_lowest_layer(stream));
  co_return result;
}

}  // namespace awh::net
