#include "spiffe/grpc_tuning.hpp"

#include <grpc/event_engine/event_engine.h>
#include <grpc/grpc.h>
#include <grpc/support/time.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/call.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>

#include "util/log.hpp"

#if AWH_GRPC_TUNED
// --- gRPC 1.51 internals this file names (declarations only; see meson.build's version check) --
struct grpc_timer;
struct grpc_closure;
struct grpc_timer_vtable;
namespace grpc_core {
// src/core/lib/gprpp/time.h: milliseconds after gRPC's process epoch, passed by value in one
// register (trivially copyable, one int64_t).
struct Timestamp {
  int64_t millis = 0;
};
}  // namespace grpc_core
// src/core/lib/iomgr/timer.h and iomgr_posix.cc.
void grpc_set_timer_impl(grpc_timer_vtable* vtable);
void grpc_set_default_iomgr_platform();
void grpc_kick_poller();
extern grpc_timer_vtable grpc_generic_timer_vtable;
#endif

namespace awh::spiffe {
struct ChannelAccess;
}

#if AWH_GRPC_TUNED
namespace grpc {
// grpc::ChannelInterface keeps the calls a channel makes private and befriends grpc::ClientReader
// (include/grpcpp/impl/channel_interface.h). This specialization for a type of ours is such a
// friend: it forwards to a channel's private members so that OwnQueueChannel below can wrap one.
template <>
class ClientReader<awh::spiffe::ChannelAccess> {
 public:
  static internal::Call CreateCall(ChannelInterface& c, const internal::RpcMethod& method,
                                   ClientContext* context, CompletionQueue* cq) {
    return c.CreateCall(method, context, cq);
  }
  static void PerformOpsOnCall(ChannelInterface& c, internal::CallOpSetInterface* ops,
                               internal::Call* call) {
    c.PerformOpsOnCall(ops, call);
  }
  static void* RegisterMethod(ChannelInterface& c, const char* method) {
    return c.RegisterMethod(method);
  }
  static void NotifyOnStateChangeImpl(ChannelInterface& c, grpc_connectivity_state last,
                                      gpr_timespec deadline, CompletionQueue* cq, void* tag) {
    c.NotifyOnStateChangeImpl(last, deadline, cq, tag);
  }
  static bool WaitForStateChangeImpl(ChannelInterface& c, grpc_connectivity_state last,
                                     gpr_timespec deadline) {
    return c.WaitForStateChangeImpl(last, deadline);
  }
  static internal::Call CreateCallInternal(ChannelInterface& c, const internal::RpcMethod& method,
                                           ClientContext* context, CompletionQueue* cq,
                                           size_t interceptor_pos) {
    return c.CreateCallInternal(method, context, cq, interceptor_pos);
  }
};
}  // namespace grpc
#endif

namespace awh::spiffe {
namespace {

#if AWH_GRPC_TUNED
// Which changes are off: AWH_GRPC_STOCK is a comma-separated list of "queue" and "timer"
// ("all" for both). For measuring each change, and a way out in the field.
bool stock(std::string_view change) {
  const char* env = std::getenv("AWH_GRPC_STOCK");
  if (env == nullptr) return false;
  std::string_view list(env);
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = list.substr(0, comma);
    if (item == change || item == "all") return true;
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
  }
  return false;
}

// --- 1. The callback API's completion queue --------------------------------------------------
// On Linux gRPC 1.51 runs callback reactions from a process-wide "alternative" completion queue
// (grpc::CompletionQueue::CallbackAlternativeCQ, src/cpp/common/completion_queue_cc.cc): at
// least two threads that wait 1 s in grpc_completion_queue_next and then sleep 100 ms, awake
// about four times a second in all. The queue a channel's callback calls use is the one its
// private CallbackCQ() returns. OwnQueueChannel forwards every other member to the real channel
// and returns a queue of ours, drained by one thread that waits with no deadline and runs each
// event's functor, as gRPC's own threads do.
class OwnQueueChannel final : public grpc::ChannelInterface {
  using Access = grpc::ClientReader<ChannelAccess>;

 public:
  explicit OwnQueueChannel(std::shared_ptr<grpc::Channel> channel)
      : channel_(std::move(channel)), queue_(std::make_shared<Queue>()) {
    std::promise<void> exited;
    queue_->exited = exited.get_future();
    drain_ = std::thread([queue = queue_, exited = std::move(exited)]() mutable {
      while (true) {
        const grpc_event event = grpc_completion_queue_next(
            queue->cq.cq(), gpr_inf_future(GPR_CLOCK_MONOTONIC), nullptr);
        if (event.type == GRPC_QUEUE_SHUTDOWN) break;
        if (event.type != GRPC_OP_COMPLETE) continue;
        auto* functor = static_cast<grpc_completion_queue_functor*>(event.tag);
        functor->functor_run(functor, event.success);
      }
      exited.set_value();
    });
  }

  ~OwnQueueChannel() override {
    channel_.reset();
    // The queue reports shutdown once every call on it has finished; WorkloadClient's
    // destructor has waited for that already. A call still open (it warned) keeps the thread
    // and the queue alive, detached, rather than hanging the exit.
    queue_->cq.Shutdown();
    if (queue_->exited.wait_for(std::chrono::seconds(3)) == std::future_status::ready) {
      drain_.join();
    } else {
      drain_.detach();
    }
  }

  grpc_connectivity_state GetState(bool try_to_connect) override {
    return channel_->GetState(try_to_connect);
  }

 private:
  struct Queue {
    grpc::CompletionQueue cq;  // GRPC_CQ_NEXT, as gRPC's alternative queue
    std::future<void> exited;
  };

  grpc::internal::Call CreateCall(const grpc::internal::RpcMethod& method,
                                  grpc::ClientContext* context,
                                  grpc::CompletionQueue* cq) override {
    return Access::CreateCall(*channel_, method, context, cq);
  }
  void PerformOpsOnCall(grpc::internal::CallOpSetInterface* ops,
                        grpc::internal::Call* call) override {
    Access::PerformOpsOnCall(*channel_, ops, call);
  }
  void* RegisterMethod(const char* method) override {
    return Access::RegisterMethod(*channel_, method);
  }
  void NotifyOnStateChangeImpl(grpc_connectivity_state last, gpr_timespec deadline,
                               grpc::CompletionQueue* cq, void* tag) override {
    Access::NotifyOnStateChangeImpl(*channel_, last, deadline, cq, tag);
  }
  bool WaitForStateChangeImpl(grpc_connectivity_state last, gpr_timespec deadline) override {
    return Access::WaitForStateChangeImpl(*channel_, last, deadline);
  }
  grpc::internal::Call CreateCallInternal(const grpc::internal::RpcMethod& method,
                                          grpc::ClientContext* context, grpc::CompletionQueue* cq,
                                          size_t interceptor_pos) override {
    return Access::CreateCallInternal(*channel_, method, context, cq, interceptor_pos);
  }
  grpc::CompletionQueue* CallbackCQ() override { return &queue_->cq; }

  std::shared_ptr<grpc::Channel> channel_;
  std::shared_ptr<Queue> queue_;
  std::thread drain_;
};

// --- 2. The iomgr timer list ------------------------------------------------------------------
// gRPC 1.51's timer manager thread (src/core/lib/iomgr/timer_manager.cc) sleeps until the time
// the timer list's check() reports. The generic list (timer_generic.cc) has one shard per core
// and reports the end of each shard's window, about a second ahead, even with no timer due: a
// wakeup per shard and second. This list delegates every operation to the generic one and
// keeps the deadlines of the pending timers on the side, so that check() reports the earliest
// real deadline, or none. A timer added with an earlier deadline than the one reported kicks
// the manager (grpc_kick_poller, as timer_generic.cc does for a new earliest timer).
//
// The vtable's layout is gRPC 1.51's struct grpc_timer_vtable (src/core/lib/iomgr/timer.h).
enum TimerCheckResult { kTimersNotChecked, kTimersCheckedAndEmpty, kTimersFired };
struct TimerVtable {
  void (*init)(grpc_timer* timer, grpc_core::Timestamp deadline, grpc_closure* closure);
  void (*cancel)(grpc_timer* timer);
  TimerCheckResult (*check)(grpc_core::Timestamp* next);
  void (*list_init)();
  void (*list_shutdown)();
  void (*consume_kick)();
};
static_assert(sizeof(TimerVtable) == 6 * sizeof(void*));
constexpr int64_t kInfFuture = INT64_MAX;  // grpc_core::Timestamp::InfFuture()

const TimerVtable* generic_timers() {
  return reinterpret_cast<const TimerVtable*>(&grpc_generic_timer_vtable);
}

struct PendingTimers {
  std::mutex mutex;
  std::map<grpc_timer*, int64_t> deadlines;
  int64_t reported = kInfFuture;  // what check() last told the manager
};
PendingTimers& pending() {
  static auto* p = new PendingTimers;  // never destroyed: gRPC may call in at exit
  return *p;
}

void timer_init(grpc_timer* timer, grpc_core::Timestamp deadline, grpc_closure* closure) {
  bool kick = false;
  {
    std::lock_guard lock(pending().mutex);
    pending().deadlines[timer] = deadline.millis;
    kick = deadline.millis < pending().reported;
    if (kick) pending().reported = deadline.millis;
  }
  generic_timers()->init(timer, deadline, closure);
  if (kick) grpc_kick_poller();
}

void timer_cancel(grpc_timer* timer) {
  {
    std::lock_guard lock(pending().mutex);
    pending().deadlines.erase(timer);
  }
  generic_timers()->cancel(timer);
}

TimerCheckResult timer_check(grpc_core::Timestamp* next) {
  if (next == nullptr) return generic_timers()->check(next);
  // The generic check skips the shards while the clock is before the earliest time this thread
  // last saw (a thread-local cache that consume_kick resets). Stock gRPC wakes often enough for
  // that to be safe; woken at a real deadline, the check must look.
  generic_timers()->consume_kick();
  grpc_core::Timestamp generic_next{kInfFuture};
  const TimerCheckResult result = generic_timers()->check(&generic_next);
  if (result == kTimersNotChecked) return result;  // another thread is checking
  // After a full check the generic list reports the smallest of its shards' earliest
  // deadlines and window ends (a window end is reported plus 1 ms, and a timer due exactly at
  // it waits in the shard's list). So every timer due more than 1 ms before the reported time
  // has fired (or was cancelled) and is forgotten here; one due at or after it is pending. A
  // fired timer due exactly 1 ms before stays until the next check, which comes at once (its
  // deadline is past): a spin of at most a millisecond. No clock is read.
  const int64_t fired_before = generic_next.millis - 1;
  std::lock_guard lock(pending().mutex);
  int64_t earliest = kInfFuture;
  for (auto it = pending().deadlines.begin(); it != pending().deadlines.end();) {
    if (it->second < fired_before) {
      it = pending().deadlines.erase(it);
    } else {
      earliest = std::min(earliest, it->second);
      ++it;
    }
  }
  next->millis = std::min(next->millis, earliest);
  pending().reported = next->millis;
  return result;
}

void timer_list_init() { generic_timers()->list_init(); }
void timer_list_shutdown() { generic_timers()->list_shutdown(); }
void timer_consume_kick() { generic_timers()->consume_kick(); }

TimerVtable g_timers{timer_init,      timer_cancel,        timer_check,
                     timer_list_init, timer_list_shutdown, timer_consume_kick};

// The layout check at start-up: the generic vtable holds six distinct functions.
bool timer_layout_ok() {
  const auto* g = generic_timers();
  const void* fns[] = {reinterpret_cast<const void*>(g->init),
                       reinterpret_cast<const void*>(g->cancel),
                       reinterpret_cast<const void*>(g->check),
                       reinterpret_cast<const void*>(g->list_init),
                       reinterpret_cast<const void*>(g->list_shutdown),
                       reinterpret_cast<const void*>(g->consume_kick)};
  for (std::size_t i = 0; i < std::size(fns); ++i) {
    if (fns[i] == nullptr) return false;
    for (std::size_t j = 0; j < i; ++j) {
      if (fns[i] == fns[j]) return false;
    }
  }
  return true;
}

// --- 3. The default EventEngine ---------------------------------------------------------------
// gRPC 1.51 on iomgr uses its default EventEngine only to run closures now or later (Run,
// RunAfter, Cancel: the promise-based filters, such as the channel-idle timer). The stock
// engine's timer thread checks once a second. This one runs them on one thread that sleeps
// until the next one is due, or until one is added. Installed through the public experimental
// hook grpc_event_engine::experimental::SetEventEngineFactory (event_engine.h).
namespace ee = grpc_event_engine::experimental;

class IdleEventEngine final : public ee::EventEngine {
  using Clock = std::chrono::steady_clock;

 public:
  IdleEventEngine() : thread_([this] { loop(); }) {}  // eager: the thread count stays flat
  ~IdleEventEngine() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    if (std::this_thread::get_id() == thread_.get_id()) {
      thread_.detach();  // the engine was released by one of its own closures
    } else {
      thread_.join();
    }
  }

  bool IsWorkerThread() override { return std::this_thread::get_id() == thread_.get_id(); }

  void Run(Closure* closure) override {
    add(Clock::now(), [closure] { closure->Run(); });
  }
  void Run(absl::AnyInvocable<void()> closure) override { add(Clock::now(), std::move(closure)); }
  TaskHandle RunAfter(Duration when, Closure* closure) override {
    return add(Clock::now() + when, [closure] { closure->Run(); });
  }
  TaskHandle RunAfter(Duration when, absl::AnyInvocable<void()> closure) override {
    return add(Clock::now() + when, std::move(closure));
  }
  bool Cancel(TaskHandle handle) override {
    std::lock_guard lock(mutex_);
    const auto it = by_id_.find(handle.keys[0]);
    if (it == by_id_.end()) return false;  // ran already, or running
    tasks_.erase(it->second);
    by_id_.erase(it);
    return true;
  }

  // Not used by gRPC 1.51's iomgr client: they report that plainly.
  absl::StatusOr<std::unique_ptr<Listener>> CreateListener(
      Listener::AcceptCallback, absl::AnyInvocable<void(absl::Status)>,
      const grpc_event_engine::experimental::EndpointConfig&,
      std::unique_ptr<grpc_event_engine::experimental::MemoryAllocatorFactory>) override {
    return absl::UnimplementedError("this EventEngine runs closures only");
  }
  ConnectionHandle Connect(OnConnectCallback on_connect, const ResolvedAddress&,
                           const grpc_event_engine::experimental::EndpointConfig&,
                           grpc_event_engine::experimental::MemoryAllocator, Duration) override {
    Run([cb = std::move(on_connect)]() mutable {
      cb(absl::UnimplementedError("this EventEngine runs closures only"));
    });
    return {{0, 0}};
  }
  bool CancelConnect(ConnectionHandle) override { return false; }
  std::unique_ptr<DNSResolver> GetDNSResolver(const DNSResolver::ResolverOptions&) override {
    return nullptr;
  }

 private:
  using Tasks = std::multimap<Clock::time_point, std::pair<intptr_t, absl::AnyInvocable<void()>>>;

  TaskHandle add(Clock::time_point when, absl::AnyInvocable<void()> fn) {
    bool earliest = false;
    intptr_t id = 0;
    {
      std::lock_guard lock(mutex_);
      id = ++last_id_;
      const auto it = tasks_.emplace(when, std::make_pair(id, std::move(fn)));
      by_id_.emplace(id, it);
      earliest = it == tasks_.begin();
    }
    if (earliest) wake_.notify_one();
    return TaskHandle{{id, 1}};
  }

  void loop() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      if (tasks_.empty()) {
        wake_.wait(lock);
        continue;
      }
      const auto due = tasks_.begin()->first;
      if (Clock::now() < due) {
        wake_.wait_until(lock, due);
        continue;
      }
      auto node = tasks_.extract(tasks_.begin());
      by_id_.erase(node.mapped().first);
      lock.unlock();
      node.mapped().second();
      node = {};  // the closure's captures are released outside the lock too
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  Tasks tasks_;
  std::map<intptr_t, Tasks::iterator> by_id_;
  intptr_t last_id_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: started once the members above exist
};

struct Tuning {
  bool queue = false;
};

// Installs the changes once, before gRPC initialises; stock gRPC when it is up already (the
// iomgr platform and the default engine are chosen at the first grpc_init) or a check fails.
const Tuning& tuning() {
  static const Tuning t = [] {
    Tuning result;
    if (grpc_is_initialized() != 0) return result;
    result.queue = !stock("queue");
    ee::SetEventEngineFactory([] { return std::make_unique<IdleEventEngine>(); });
    if (!stock("timer")) {
      if (timer_layout_ok()) {
        // The default platform first, so that grpc_iomgr_init keeps our timer list
        // (it sets the default only while no platform is chosen).
        grpc_set_default_iomgr_platform();
        grpc_set_timer_impl(reinterpret_cast<grpc_timer_vtable*>(&g_timers));
      } else {
        log::warn("gRPC's timer list is not laid out as expected: stock timers are used");
      }
    }
    return result;
  }();
  return t;
}
#endif  // AWH_GRPC_TUNED

}  // namespace

#if AWH_GRPC_TUNED
bool grpc_tuned() { return true; }
#else
bool grpc_tuned() { return false; }
#endif

void prepare_grpc() {
#if AWH_GRPC_TUNED
  tuning();
#endif
}

std::shared_ptr<grpc::ChannelInterface> create_workload_channel(
    const std::string& target, const grpc::ChannelArguments& args) {
  prepare_grpc();
  auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
#if AWH_GRPC_TUNED
  if (tuning().queue) return std::make_shared<OwnQueueChannel>(std::move(channel));
#endif
  return channel;
}

}  // namespace awh::spiffe

#if AWH_GRPC_TUNED
// --- A client-only core configuration ---------------------------------------------------------
// gRPC core builds its registry of resolvers, LB policies, filters and handshakers once, in
// grpc_core::BuildCoreConfiguration (src/core/plugin_registry/grpc_plugin_registry.cc, gRPC
// 1.51), which is alone in its archive member. Defined here, in an object the binary links
// anyway and before libgrpc's archive, ours is the one used, and the linker no longer pulls in
// what only the stock one names: the rls, grpclb, priority, weighted_target, ring_hash,
// round_robin and outlier_detection policies, the DNS (c-ares and native) and fake resolvers,
// the HTTP CONNECT handshaker and proxy mapper, fault injection, the direct channels' service
// config filter, and the channel-idle filters (a client channel that has had no call for
// GRPC_ARG_CLIENT_IDLE_TIMEOUT_MS, 30 min, closes its connection; the server's max-age: our
// channels always have a call open or are short-lived, so they stay connected instead). What stays
// is what an insecure pick_first client on unix:, ipv4: and ipv6: targets needs, registered in the
// stock order. So `dns:` targets, GRPC_DNS_RESOLVER, LB choices in service configs and http_proxy
// are ignored: the Workload API is local and must never be proxied.
//
// Only declarations: the registration functions take an opaque Builder*, so no gRPC-internal
// header is needed. Their names and signatures are those of gRPC 1.51 (meson.build checks).
namespace grpc_core {
class CoreConfiguration {
 public:
  class Builder;
};
}  // namespace grpc_core
namespace grpc_event_engine::experimental {
void RegisterEventEngineChannelArgPreconditioning(grpc_core::CoreConfiguration::Builder* builder);
}  // namespace grpc_event_engine::experimental
namespace grpc_core {
void RegisterTCPConnectHandshaker(CoreConfiguration::Builder* builder);
void RegisterPickFirstLbPolicy(CoreConfiguration::Builder* builder);
void BuildClientChannelConfiguration(CoreConfiguration::Builder* builder);
void SecurityRegisterHandshakerFactories(CoreConfiguration::Builder* builder);
void RegisterClientAuthorityFilter(CoreConfiguration::Builder* builder);
void RegisterHttpFilters(CoreConfiguration::Builder* builder);
void RegisterDeadlineFilter(CoreConfiguration::Builder* builder);
void RegisterMessageSizeFilter(CoreConfiguration::Builder* builder);
void RegisterResourceQuota(CoreConfiguration::Builder* builder);
void RegisterSockaddrResolver(CoreConfiguration::Builder* builder);
void RegisterSecurityFilters(CoreConfiguration::Builder* builder);
void RegisterExtraFilters(CoreConfiguration::Builder* builder);
void RegisterBuiltins(CoreConfiguration::Builder* builder);

void BuildCoreConfiguration(CoreConfiguration::Builder* builder) {
  grpc_event_engine::experimental::RegisterEventEngineChannelArgPreconditioning(builder);
  RegisterTCPConnectHandshaker(builder);
  RegisterPickFirstLbPolicy(builder);
  BuildClientChannelConfiguration(builder);
  SecurityRegisterHandshakerFactories(builder);
  RegisterClientAuthorityFilter(builder);
  RegisterHttpFilters(builder);
  RegisterDeadlineFilter(builder);
  RegisterMessageSizeFilter(builder);
  RegisterResourceQuota(builder);
  RegisterSockaddrResolver(builder);
  RegisterSecurityFilters(builder);  // last but two, as in the stock order
  RegisterExtraFilters(builder);
  RegisterBuiltins(builder);
}
}  // namespace grpc_core

// The engine gRPC creates when no factory is set (src/core/lib/event_engine/
// default_event_engine_factory.cc, alone in its archive member): ours too, so that the stock
// POSIX engine, its timer list and thread pool, which nothing else names, are not linked in.
namespace grpc_event_engine::experimental {
std::unique_ptr<EventEngine> DefaultEventEngineFactory() {
  return std::make_unique<awh::spiffe::IdleEventEngine>();
}
}  // namespace grpc_event_engine::experimental

// grpc_init() and grpc_shutdown() call these (src/core/lib/surface/init.cc). Without the c-ares
// resolver registered they have nothing to set up: no-ops, as in gRPC's own builds without
// c-ares (GRPC_ARES=0, src/core/ext/filters/client_channel/resolver/dns/c_ares/
// dns_resolver_ares.cc).
void grpc_resolver_dns_ares_init() {}
void grpc_resolver_dns_ares_shutdown() {}
#endif  // AWH_GRPC_TUNED
