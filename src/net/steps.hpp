#pragma once
// The steps of one HTTP(S) request after name resolution (net/resolve.hpp): connect, the proxy
// tunnel when there is a proxy, TLS handshake, exchange. HttpClient composes them; tests drive them
// one at a time.
//
// Common contract:
//  - Each step runs on the calling coroutine's executor and ends by `deadline`, the one it is
//    given: the caller passes the smaller of its per-step timeout and its overall deadline.
//    A timer cancels the step's socket operations at the deadline; a deadline already past
//    fails the step at once.
//  - A step takes its stream by value and consumes it: on failure the connection is closed.
//  - Errors, with messages that name the step but not the URL (the caller prefixes that):
//    errc::timeout "<step> timed out"; errc::network "<step> failed: <reason>" for connection
//    failures (sys_errno set when the cause is a system error: ECONNREFUSED, ECONNRESET, ...);
//    errc::tls and errc::protocol as stated below.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <chrono>
#include <cstddef>
#include <string>

#include "net/http.hpp"
#include "net/proxy.hpp"
#include "net/resolve.hpp"
#include "util/error.hpp"

namespace awh::net {

// Plain Asio streams: the deadlines are ours (above), and the HTTP code is compiled once, for a
// type-erased stream, rather than once per stream type (steps.cpp).
using TcpStream = boost::asio::ip::tcp::socket;
using TlsStream = boost::asio::ssl::stream<TcpStream>;

// The order to try addresses in (RFC 8305 §4): the families alternate, starting with the
// family of the resolver's first answer; within a family the resolver's order is kept.
Endpoints interleave_families(Endpoints endpoints);

// Connects to the endpoints in interleave_families order until one accepts. Each attempt but the
// last is bounded by `per_address` (so an address that swallows SYNs, e.g. a broken IPv6 route,
// costs at most that); the last one runs to `deadline`.
// Errors: "connecting timed out" when `deadline` passed, else "connecting failed: <reason of the
// last attempt>" (naming how many addresses were tried when more than one).
boost::asio::awaitable<Result<TcpStream>> connect(
    Endpoints endpoints, std::chrono::steady_clock::time_point deadline,
    std::chrono::milliseconds per_address = std::chrono::seconds(2));

// Opens an HTTP CONNECT tunnel (RFC 9110 §9.3.6) to host:port through the proxy `stream` is
// connected to, authenticating with Basic when the proxy has a user. The request, which holds the
// proxy password, is wiped after sending.
// Errors (the caller names the proxy): errc::network "the proxy refused the tunnel to
// <host:port>: HTTP <status> <reason>" (http_status set: 407, 403, 502, ...: transient, retried
// like the other network failures); errc::protocol "malformed answer from the proxy: ..." (also
// for data after a 2xx); "opening the tunnel timed out" / "opening the tunnel failed: <reason>".
boost::asio::awaitable<Result<TcpStream>> tunnel(TcpStream stream, const Proxy& proxy,
                                                 std::string host, std::string port,
                                                 std::chrono::steady_clock::time_point deadline);

// The TLS client handshake over a connected stream to `host`, with the settings of `context`
// (the caller requires TLS >= 1.2 and peer verification there). A host name is sent as SNI and
// verified against the certificate (no partial wildcards); an IP literal gets no SNI (RFC 6066
// §3) and is verified against the certificate's IP addresses.
// `context` is borrowed: it must outlive the returned stream (HttpClient owns it).
// Errors: errc::tls "TLS certificate verification failed: <reason>" or "TLS handshake failed:
// <alert or reason>" when TLS itself refused (final, not worth a retry); errc::network
// "TLS handshake failed: <reason>" when the connection was reset or closed mid-handshake (a
// load balancer, a restart: transient); "TLS handshake timed out".
boost::asio::awaitable<Result<TlsStream>> tls_handshake(
    TcpStream stream, boost::asio::ssl::context& context, std::string host,
    std::chrono::steady_clock::time_point deadline);

// Writes `request` as HTTP/1.1 with `Connection: close` and its Content-Length, reads the whole
// response, then shuts the connection down (no TLS close_notify round trip: the response is
// complete and the connection is ours alone). Chunked and Content-Length bodies are accepted.
// Errors: errc::protocol "response body exceeds <max_body_bytes> bytes" or "malformed HTTP
// response: <reason>"; errc::network "sending the request failed: ..." / "reading the response
// failed: ..." (a peer that closes early: "end of stream", "partial message"); "sending the
// request timed out" / "reading the response timed out".
boost::asio::awaitable<Result<HttpResponse>> exchange(
    TcpStream stream, HttpRequest request, std::size_t max_body_bytes,
    std::chrono::steady_clock::time_point deadline);
boost::asio::awaitable<Result<HttpResponse>> exchange(
    TlsStream stream, HttpRequest request, std::size_t max_body_bytes,
    std::chrono::steady_clock::time_point deadline);

}  // namespace awh::net
