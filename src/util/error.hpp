#pragma once
// Errors as values. A failure that depends on data or the environment is an `Error`: a code
// from our own category (so callers can branch on the kind, e.g. "retryable?") plus a one-line
// human message naming what is wrong. The message never contains secrets.

#include <boost/system/result.hpp>
#include <stdexcept>
#include <string>
#include <system_error>

namespace awh {

enum class errc {
  ok = 0,
  usage,          // bad or missing command-line input (exit 2)
  invalid_input,  // bad data we were given (a file, a certificate, an ARN)
  not_found,      // nothing matched (e.g. no SVID for the selectors)
  unavailable,    // a peer is not there yet; retryable
  timeout,        // an operation ran out of time; retryable
  protocol,       // a peer answered something we can't use (malformed JSON, missing field)
  denied,         // a peer refused us (4xx other than throttling); not retryable
  throttled,      // 429 / throttling code; retryable
  server,         // 5xx; retryable
  tls,            // TLS handshake or verification failure
  io,             // local I/O failure
  crypto,         // OpenSSL failure
  internal,
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

struct Error {
  errc code = errc::internal;
  std::string message;

  // Transient failures worth another attempt: connection problems, timeouts, 429, 5xx.
  bool retryable() const noexcept {
    return code == errc::unavailable || code == errc::timeout || code == errc::throttled ||
           code == errc::server;
  }
};

// Thrown only when a caller asks a failed result for its value; see Result below.
class ErrorException : public std::runtime_error {
 public:
  explicit ErrorException(Error e) : std::runtime_error(e.message), error_(std::move(e)) {}
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

[[noreturn]] inline void throw_exception_from_error(const Error& e,
                                                    const boost::source_location&) {
  throw ErrorException(e);
}

template <class T>
using Result = boost::system::result<T, Error>;

inline Error make_error(errc code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace awh

template <>
struct std::is_error_code_enum<awh::errc> : std::true_type {};
