#include "net/resolve.hpp"

#include <fmt/format.h>
#include <netdb.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_set>

namespace awh::net {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// getaddrinfo() codes as Asio reports them (asio/detail/impl/socket_ops.ipp,
// translate_addrinfo_error), so the messages stay those of the resolver this replaces.
boost::system::error_code translate_addrinfo_error(int error, int saved_errno) {
  switch (error) {
    case EAI_AGAIN:
      return asio::error::host_not_found_try_again;
    case EAI_BADFLAGS:
      return asio::error::invalid_argument;
    case EAI_FAIL:
      return asio::error::no_recovery;
    case EAI_FAMILY:
      return asio::error::address_family_not_supported;
    case EAI_MEMORY:
      return asio::error::no_memory;
    case EAI_NONAME:
#if defined(EAI_ADDRFAMILY)
    case EAI_ADDRFAMILY:
#endif
#if defined(EAI_NODATA) && (EAI_NODATA != EAI_NONAME)
    case EAI_NODATA:
#endif
      return asio::error::host_not_found;
    case EAI_SERVICE:
      return asio::error::service_not_found;
    case EAI_SOCKTYPE:
      return asio::error::socket_type_not_supported;
    default:  // EAI_SYSTEM: errno holds the cause
      return {saved_errno, boost::system::system_category()};
  }
}

// One lookup in flight, shared by the waiting coroutine, the lookup thread and the handler that
// hands the answer over. Once `abandoned` is set (by the waiter's guard, or by LookupRegistry
// when the io_context shuts down) nothing but the lookup thread's own copy of the resolver is
// used again: the thread drops its answer instead of posting it.
struct Lookup {
  std::mutex mutex;
  bool abandoned = false;                   // guarded by mutex
  asio::any_io_executor executor;           // guarded; reset when abandoned
  asio::steady_timer* wake = nullptr;       // guarded; the waiter's timer, valid until abandoned
  std::optional<Result<Endpoints>> answer;  // guarded; set on the executor

  void abandon() {
    std::lock_guard lock(mutex);
    abandoned = true;
    // Drop the executor here, on a thread that may use it, rather than wherever the last
    // reference goes: a strand's implementation refers back to its io_context's service.
    executor = {};
    wake = nullptr;
  }

  // Runs on the executor: hands the answer to the waiter, if there still is one.
  void deliver(Result<Endpoints> result) {
    std::lock_guard lock(mutex);
    if (abandoned) return;
    answer = std::move(result);
    wake->cancel();
  }
};

// The lookups of one io_context. When the io_context is destroyed, its services are shut down
// in reverse order of creation, this one before the scheduler, which destroys the queued
// handlers without holding its lock (asio/detail/impl/scheduler.ipp, scheduler::shutdown):
// a lookup thread posting at that moment would race with it. So every lookup still registered
// is abandoned here, before any handler is destroyed.
class LookupRegistry : public asio::execution_context::service {
 public:
  using key_type = LookupRegistry;
  explicit LookupRegistry(asio::execution_context& context) : service(context) {}

  void add(Lookup* lookup) {
    std::lock_guard lock(mutex_);
    lookups_.insert(lookup);
  }
  void remove(Lookup* lookup) {
    std::lock_guard lock(mutex_);
    lookups_.erase(lookup);
  }

 private:
  void shutdown() override {
    std::lock_guard lock(mutex_);
    for (Lookup* lookup : lookups_) lookup->abandon();
    lookups_.clear();
  }

  std::mutex mutex_;
  std::unordered_set<Lookup*> lookups_;  // each kept alive by its waiter until removed
};

// Lives in the waiting coroutine's frame: however that frame ends (an answer, the deadline,
// cancellation, or destruction with its io_context), the lookup is abandoned.
class AbandonOnExit {
 public:
  AbandonOnExit(LookupRegistry& registry, std::shared_ptr<Lookup> lookup)
      : registry_(registry), lookup_(std::move(lookup)) {
    registry_.add(lookup_.get());
  }
  ~AbandonOnExit() {
    registry_.remove(lookup_.get());
    lookup_->abandon();
  }
  AbandonOnExit(const AbandonOnExit&) = delete;
  AbandonOnExit& operator=(const AbandonOnExit&) = delete;

 private:
  LookupRegistry& registry_;
  std::shared_ptr<Lookup> lookup_;
};

Result<Endpoints> call_resolver(const Resolver& resolver, const std::string& host,
                                const std::string& port) {
  try {
    return resolver(host, port);
  } catch (const std::exception& e) {
    return make_error(errc::internal, e.what());
  }
}

// The lookup thread: may block for ever; owns copies of everything it uses.
void run_lookup(std::shared_ptr<Lookup> lookup, Resolver resolver, std::string host,
                std::string port) {
  auto result = call_resolver(resolver, host, port);
  std::lock_guard lock(lookup->mutex);
  if (lookup->abandoned) return;
  try {
    asio::post(lookup->executor, [lookup, result = std::move(result)]() mutable {
      lookup->deliver(std::move(result));
    });
  } catch (const std::exception&) {
    // Out of memory for the handler: nothing to report it to from here; the waiter ends at
    // its deadline with errc::timeout.
  }
}

}  // namespace

Result<Endpoints> resolve_with_getaddrinfo(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = 0;  // what asio::ip::tcp::resolver::async_resolve(host, service) passes
  addrinfo* list = nullptr;
  errno = 0;
  const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &list);
  const int saved_errno = errno;
  if (rc != 0) {
    const auto ec = translate_addrinfo_error(rc, saved_errno);
    Error e = make_error(errc::network, ec.message());
    if (ec.category() == boost::system::system_category()) e.sys_errno = ec.value();
    return e;
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(list, &::freeaddrinfo);
  Endpoints endpoints;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    asio::ip::tcp::endpoint endpoint;
    if (ai->ai_addrlen > endpoint.capacity()) continue;
    std::memcpy(endpoint.data(), ai->ai_addr, ai->ai_addrlen);
    endpoint.resize(ai->ai_addrlen);
    endpoints.push_back(endpoint);
  }
  if (endpoints.empty()) {
    return make_error(errc::network,
                      asio::error::make_error_code(asio::error::host_not_found).message());
  }
  return endpoints;
}

asio::awaitable<Result<Endpoints>> resolve(Resolver resolver, std::string host, std::string port,
                                           Clock::time_point deadline) {
  if (Clock::now() >= deadline) {
    co_return make_error(errc::timeout, fmt::format("resolving {} timed out", host));
  }
  auto executor = co_await asio::this_coro::executor;
  auto& registry =
      asio::use_service<LookupRegistry>(asio::query(executor, asio::execution::context));
  asio::steady_timer wake(executor, deadline);
  auto lookup = std::make_shared<Lookup>();
  lookup->executor = executor;
  lookup->wake = &wake;
  AbandonOnExit guard(registry, lookup);

  try {
    std::thread(run_lookup, lookup, std::move(resolver), host, std::move(port)).detach();
  } catch (const std::system_error& e) {
    Error error = make_error(
        errc::network,
        fmt::format("resolving {} failed: cannot start a thread: {}", host, e.code().message()));
    error.sys_errno = e.code().value();
    co_return error;
  }

  // The timer is the only thing awaited: the handler from the lookup thread cancels it when the
  // answer arrives, the deadline ends it, and so does cancellation of this coroutine (Asio binds
  // the coroutine's cancellation slot to the wait).
  auto [ec] = co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
  // The answer wins whatever ended the wait: it may have arrived just as the timer fired.
  if (lookup->answer) {
    auto answer = std::move(*lookup->answer);
    if (!answer) co_return answer.error().prefixed(fmt::format("resolving {} failed: ", host));
    co_return answer;
  }
  if (!ec) co_return make_error(errc::timeout, fmt::format("resolving {} timed out", host));
  Error cancelled = make_error(errc::network, fmt::format("resolving {} was cancelled", host));
  cancelled.sys_errno = ECANCELED;
  co_return cancelled;
}

}  // namespace awh::net
