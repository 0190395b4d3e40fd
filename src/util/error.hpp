#pragma once
// Errors as values. A failure that depends on data or the environment is an `Error`:
//  - a class (`errc`): what callers branch on (retry or stop, which exit code) and what metrics
//    count;
//  - the original code where there is one: errno, the HTTP status, the AWS error code, the gRPC
//    status code;
//  - a one-line human message naming what is wrong. The message never contains secrets.
// The classes are listed in ARCHITECTURE.md, "Errors".

#include <boost/system/result.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

namespace awh {

enum class errc {
  ok = 0,
  usage,                 // bad or missing command-line input (exit 2)
  invalid_input,         // bad data we were given (a certificate, an ARN, a JWT-SVID)
  not_found,             // nothing matched (e.g. no SVID for the selectors)
  network,               // resolve/connect/reset talking to AWS; retryable
  timeout,               // an operation ran out of time; retryable
  tls,                   // TLS handshake refused or verification failed
  protocol,              // a peer answered something we can't use (malformed, missing field)
  throttled,             // HTTP 429 or an AWS throttling code; retryable
  denied,                // AWS refused us (4xx other than throttling)
  server,                // HTTP 5xx or a transient AWS failure; retryable
  workload_unavailable,  // the Workload API is not there, or has no identity for us yet; retryable
  workload_rejected,     // the Workload API refused the request (INVALID_ARGUMENT, UNIMPLEMENTED)
  file,                  // reading or writing a local file
  crypto,                // OpenSSL failure
  internal,
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

// The short name of a class ("network", "workload_unavailable"), for logs and metrics.
const char* class_name(errc cls) noexcept;

struct Error {
  errc cls = errc::internal;
  std::string message;
  // The original code, where the failure had one.
  int sys_errno = 0;               // errno of a failed system call
  unsigned http_status = 0;        // the HTTP status a peer answered
  std::string aws_code;            // the AWS error code, e.g. "AccessDeniedException"
  std::optional<int> grpc_status;  // the gRPC status code of a Workload API call

  // Transient failures worth another attempt: connection problems, timeouts, throttling, 5xx,
  // a Workload API that isn't ready.
  bool retryable() const noexcept {
    return cls == errc::network || cls == errc::timeout || cls == errc::throttled ||
           cls == errc::server || cls == errc::workload_unavailable;
  }
  // The same error with `prefix` before its message ("cannot get an X.509-SVID: ...").
  Error prefixed(std::string_view prefix) const {
    Error e = *this;
    e.message.insert(0, prefix);
    return e;
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

[[noreturn]] inline void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw ErrorException(e);
}

template <class T>
using Result = boost::system::result<T, Error>;

inline Error make_error(errc cls, std::string message) {
  // Assigned, not aggregate-initialised: warning_level=3 turns on -Wmissing-field-initializers,
  // which GCC 12 reports for the members left to their defaults.
  Error e;
  e.cls = cls;
  e.message = std::move(message);
  return e;
}

}  // namespace awh

template <>
struct std::is_error_code_enum<awh::errc> : std::true_type {};

// Early return of a failed Result: `AWH_TRY(x, parse(text));` declares `x` (the Result) and
// returns its error from the enclosing function if it failed; AWH_CO_TRY does the same with
// co_return in a coroutine. Use `*x` afterwards.
#define AWH_TRY(var, expr) \
  auto var = (expr);       \
  if (!var) return std::move(var).error()
#define AWH_CO_TRY(var, expr) \
  auto var = (expr);          \
  if (!var) co_return std::move(var).error()
