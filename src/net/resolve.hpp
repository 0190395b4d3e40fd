#pragma once
// The resolve step: a host name (or IP literal) and port to TCP endpoints, with a deadline that
// holds even when the name lookup never answers.
//
// Why not asio::ip::tcp::resolver: Asio runs getaddrinfo() on an internal thread of the
// io_context (detail::resolver_service_base), which cannot be interrupted; cancelling the
// resolver only discards the answer, and the io_context's destructor joins that thread. A lookup
// that hangs (an unreachable DNS server, a stuck NSS module) therefore holds the process at
// exit. Here each lookup runs on a detached thread of its own that the waiter can abandon.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace awh::net {

using Endpoints = std::vector<boost::asio::ip::tcp::endpoint>;

// A blocking name lookup. Called on a thread of its own, possibly after the io_context that
// asked for it is gone, so it must own everything it uses (it is copied onto that thread). It
// may block for as long as it likes. Errors: errc::network (sys_errno set for a system error).
// Exceptions are reported as errc::internal.
using Resolver = std::function<Result<Endpoints>(const std::string& host, const std::string& port)>;

// The default Resolver: getaddrinfo() for TCP, any address family, with the flags Asio's
// resolver passes (none), and its error texts ("Host not found (authoritative)").
Result<Endpoints> resolve_with_getaddrinfo(const std::string& host, const std::string& port);

// Resolves `host`:`port` with `resolver` on a new detached thread and waits on the calling
// coroutine's executor, which must be single-threaded or a strand (the answer is handed over
// on it).
// Ends with:
//  - the endpoints (at least one), or the resolver's error, prefixed "resolving <host> failed: ";
//  - errc::timeout "resolving <host> timed out" as soon as `deadline` passes, at once if it has
//    passed already;
//  - errc::network "resolving <host> was cancelled" (sys_errno ECANCELED) when the awaiting
//    coroutine is cancelled through its cancellation slot (e.g. it lost an `||` race);
//  - errc::network with sys_errno when no thread can be started.
// In every case the lookup thread is abandoned, not joined: it finishes on its own and drops
// its answer. Destroying the io_context (stopped or not) while a lookup is in flight does not
// block and is safe: the thread never touches an io_context that has begun shutting down.
boost::asio::awaitable<Result<Endpoints>> resolve(Resolver resolver, std::string host,
                                                  std::string port,
                                                  std::chrono::steady_clock::time_point deadline);

}  // namespace awh::net
