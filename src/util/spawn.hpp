#pragma once
// The completion handler for co_spawn'ed tasks that can fail: an exception that escapes a task
// is logged once (escaped, like every log line) and reported to `on_exception`; the task's
// result, if any, goes to `on_result`.

#include <exception>
#include <utility>

#include "util/log.hpp"

namespace awh::util {

namespace detail {
inline void log_exception(const char* task, const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::error("internal error in {}: {}", task, ex.what());
  } catch (...) {
    log::error("internal error in {}: unknown exception", task);
  }
}
}  // namespace detail

// For awaitable<void> tasks: `on_exception()` runs after the log line; `on_done()` always runs
// last.
template <class OnException, class OnDone>
auto log_failures(const char* task, OnException on_exception, OnDone on_done) {
  return [task, on_exception = std::move(on_exception),
          on_done = std::move(on_done)](std::exception_ptr e) mutable {
    if (e) {
      detail::log_exception(task, e);
      on_exception();
    }
    on_done();
  };
}

// For awaitable<T> tasks: `on_result(T)` on success, `on_exception()` after logging a failure.
template <class OnResult, class OnException>
auto log_failures_or(const char* task, OnResult on_result, OnException on_exception) {
  return [task, on_result = std::move(on_result), on_exception = std::move(on_exception)](
             std::exception_ptr e, auto value) mutable {
    if (e) {
      detail::log_exception(task, e);
      on_exception();
      return;
    }
    on_result(std::move(value));
  };
}

}  // namespace awh::util
