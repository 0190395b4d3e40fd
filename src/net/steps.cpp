#include "net/steps.hpp"

#include <string.h>

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <array>
#include <iterator>
#include <memory>

#include "net/http_parse.hpp"
#include "net/watchdog.hpp"
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

// Failures of the steps that return a stream. Explicit, so that result<Stream, Error> never has
// to tell an Error from stream constructor arguments.
template <class Stream>
Result<Stream> fail(Error e) {
  return Result<Stream>(boost::system::in_place_error, std::move(e));
}

// A byte stream whose operations are type-erased (asio::any_completion_handler), so that Beast's
// HTTP writer and reader are compiled once for plain and TLS connections alike instead of once
// per stream type: this is most of the binary's HTTP code (README, "Performance").
//  - A read fills the first non-empty buffer of the sequence, as a read_some may.
//  - A write of several buffers (Beast hands the header over field by field) is gathered into one
//    buffer first, so that TLS sends one record rather than one per field. That copy can hold
//    a secret (the JWT in an STS request body): it is wiped before reuse and at the end.
class AnyStream {
 public:
  using executor_type = asio::any_io_executor;
  using Handler = asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;

  explicit AnyStream(executor_type executor) : executor_(std::move(executor)) {}
  AnyStream(const AnyStream&) = delete;
  AnyStream& operator=(const AnyStream&) = delete;
  virtual ~AnyStream() { explicit_bzero(gathered_.data(), gathered_.size()); }

  executor_type get_executor() const noexcept { return executor_; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    asio::mutable_buffer first;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      if (asio::mutable_buffer b(*it); b.size() != 0) {
        first = b;
        break;
      }
    }
    return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, asio::mutable_buffer buffer) {
          read(buffer, Handler(std::move(handler)));
        },
        token, first);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, asio::const_buffer buffer) {
          write(buffer, Handler(std::move(handler)));
        },
        token, gather(buffers));
  }

 protected:
  virtual void read(asio::mutable_buffer buffer, Handler handler) = 0;
  virtual void write(asio::const_buffer buffer, Handler handler) = 0;

 private:
  template <class ConstBuffers>
  asio::const_buffer gather(const ConstBuffers& buffers) {
    auto it = asio::buffer_sequence_begin(buffers);
    const auto end = asio::buffer_sequence_end(buffers);
    if (it == end) return {};
    if (std::next(it) == end) return asio::const_buffer(*it);
    explicit_bzero(gathered_.data(), gathered_.size());
    const std::size_t n = asio::buffer_copy(asio::buffer(gathered_), buffers);
    return asio::buffer(gathered_.data(), n);
  }

  executor_type executor_;
  std::array<char, 16 * 1024> gathered_{};
};

template <class Stream>
class StreamOf : public AnyStream {
 public:
  explicit StreamOf(Stream& stream) : AnyStream(stream.get_executor()), stream_(stream) {}

 private:
  void read(asio::mutable_buffer buffer, Handler handler) override {
    stream_.async_read_some(buffer, std::move(handler));
  }
  void write(asio::const_buffer buffer, Handler handler) override {
    stream_.async_write_some(buffer, std::move(handler));
  }
  Stream& stream_;
};

// The exchange over a plain or TLS stream (`socket` is its TCP layer, for the deadline).
asio::awaitable<Result<HttpResponse>> exchange_over(AnyStream& stream, TcpStream& socket,
                                                    HttpRequest request, std::size_t max_body_bytes,
                                                    Clock::time_point deadline) {
  http::request<http::string_body> req;
  req.method_string(request.method);
  req.target(request.target);
  req.version(11);
  for (auto& [name, value] : request.headers) req.set(name, value);
  req.set(http::field::connection, "close");
  req.body() = std::move(request.body);
  req.prepare_payload();

  const Watchdog watchdog(socket, deadline);  // one deadline for the write and the read
  if (auto [ec, n] = co_await http::async_write(stream, req, kUseTuple); ec) {
    co_return step_error("sending the request", watchdog.classify(ec));
  }

  // The raw response (credentials in it) passes through this buffer: reserved up front so that
  // a usual answer (2-4 KiB) never reallocates (a freed copy would keep the bytes), and wiped
  // whole.
  struct WipedBuffer {
    beast::flat_buffer buffer;
    WipedBuffer() { buffer.reserve(16 * 1024); }
    WipedBuffer(const WipedBuffer&) = delete;
    WipedBuffer& operator=(const WipedBuffer&) = delete;
    ~WipedBuffer() {
      buffer.clear();
      const auto all = buffer.prepare(buffer.capacity());
      explicit_bzero(all.data(), all.size());
    }
  } wiped;
  beast::flat_buffer& buffer = wiped.buffer;
  ResponseParser parser;
  parser.body_limit(max_body_bytes);
  if (auto [ec, n] = co_await http::async_read(stream, buffer, parser, kUseTuple); ec) {
    co_return response_read_error(watchdog.classify(ec), max_body_bytes);
  }
  co_return take_response(parser);
}

void shut_down(TcpStream& socket) {
  boost::system::error_code ignored;  // closing a finished connection; nothing to report
  socket.shutdown(tcp::socket::shutdown_both, ignored);
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
    TcpStream socket(co_await asio::this_coro::executor);
    const bool final_attempt = i + 1 == order.size();
    boost::system::error_code ec;
    {
      const Watchdog watchdog(
          socket, final_attempt ? deadline : std::min(deadline, Clock::now() + per_address));
      auto [connect_ec] = co_await socket.async_connect(order[i], kUseTuple);
      ec = watchdog.classify(connect_ec);
    }
    if (!ec) co_return std::move(socket);
    last = ec;
    if (Clock::now() >= deadline) {
      co_return fail<TcpStream>(make_error(errc::timeout, "connecting timed out"));
    }
  }
  Error e = step_error("connecting", last);
  if (order.size() > 1) e.message += fmt::format(" ({} addresses tried)", order.size());
  co_return fail<TcpStream>(std::move(e));
}

asio::awaitable<Result<TcpStream>> tunnel(TcpStream socket, const Proxy& proxy, std::string host,
                                          std::string port, Clock::time_point deadline) {
  std::string request = connect_request(proxy, host, port);
  StreamOf<TcpStream> plain(socket);
  AnyStream& stream = plain;  // Beast's code for AnyStream, shared with exchange_over
  const Watchdog watchdog(socket, deadline);
  auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(request), kUseTuple);
  util::wipe(request);
  if (write_ec) {
    co_return fail<TcpStream>(step_error("opening the tunnel", watchdog.classify(write_ec)));
  }

  // Only the header: a 2xx answer to CONNECT has no body (RFC 9110 §9.3.6), and the bytes after
  // it belong to the tunnel.
  beast::flat_buffer buffer;
  ResponseParser parser;  // the exchange's parser type: Beast's reader is compiled once
  parser.header_limit(16 * 1024);
  if (auto [read_ec, n] = co_await http::async_read_header(stream, buffer, parser, kUseTuple);
      read_ec) {
    const auto ec = watchdog.classify(read_ec);
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
  co_return std::move(socket);
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

  const Watchdog watchdog(stream.next_layer(), deadline);
  if (auto [handshake_ec] =
          co_await stream.async_handshake(asio::ssl::stream_base::client, kUseTuple);
      handshake_ec) {
    const auto ec = watchdog.classify(handshake_ec);
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
  co_return std::move(stream);
}

asio::awaitable<Result<HttpResponse>> exchange(TcpStream socket, HttpRequest request,
                                               std::size_t max_body_bytes,
                                               Clock::time_point deadline) {
  StreamOf<TcpStream> stream(socket);
  auto result =
      co_await exchange_over(stream, socket, std::move(request), max_body_bytes, deadline);
  shut_down(socket);
  co_return result;
}

asio::awaitable<Result<HttpResponse>> exchange(TlsStream stream, HttpRequest request,
                                               std::size_t max_body_bytes,
                                               Clock::time_point deadline) {
  StreamOf<TlsStream> any(stream);
  auto result = co_await exchange_over(any, stream.next_layer(), std::move(request), max_body_bytes,
                                       deadline);
  shut_down(stream.next_layer());
  co_return result;
}

}  // namespace awh::net
