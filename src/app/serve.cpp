#include "app/serve.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "util/atomic_file.hpp"
#include "util/log.hpp"

namespace awh::app {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string url_of(const tcp::endpoint& ep, std::string_view path) {
  return fmt::format("http://{}{}", serve::endpoint_text(ep), path);
}

// Every connection is a descriptor: allow as many as the hard limit does (1024 by default is
// too few for a busy pod).
void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &limit);  // best effort: the default limit still works
  }
}

}  // namespace

ServeDriver::ServeDriver(asio::any_io_executor executor, std::string command,
                         const ToServer& config, std::chrono::seconds timeout,
                         engine::MemorySink& store, engine::Engine& engine)
    : ServeDriver(
          executor, std::move(command), config, timeout,
          {ServedRoute{std::string(serve::kCredentialsPath), &store, &engine, config.account_id}}) {
  imds_enabled_ = true;
}

ServeDriver::ServeDriver(asio::any_io_executor executor, std::string command,
                         const ToServer& config, std::chrono::seconds timeout,
                         std::vector<ServedRoute> routes)
    : command_(std::move(command)),
      config_(config),
      timeout_(timeout),
      routes_(std::move(routes)),
      imds_enabled_(false),
      imds_{config.role_name, config.region, config.imdsv1},
      server_(
          executor, [this](const serve::Request& request) { return handle(request); },
          [&] {
            serve::ServerLimits limits;
            limits.hop_limit = config.hop_limit;
            return limits;
          }()),
      first_deadline_(executor) {}

serve::Reply ServeDriver::handle(const serve::Request& request) {
  serve::RouteState state;
  state.token = token_;
  state.version = AWH_VERSION;
  state.command = command_;
  if (routes_.size() == 1) {
    // `*-serve`: what it has always been, the IMDS routes included.
    const ServedRoute& only = routes_.front();
    state.credentials_path = only.path;
    state.latest = only.store->latest();
    state.account_id = only.account_id;
    if (imds_enabled_) {
      state.imds = &imds_;
      state.imds_tokens = &imds_tokens_;
    }
    state.metrics = &only.engine->metrics();
    return serve::answer(request, state, only.engine->metrics());
  }
  const std::string_view path = request.target.substr(0, request.target.find('?'));
  const auto route = std::find_if(routes_.begin(), routes_.end(),
                                  [&](const ServedRoute& r) { return r.path == path; });
  state.credentials_route = route != routes_.end();
  if (state.credentials_route) {
    state.credentials_path = route->path;
    state.latest = route->store->latest();
    state.account_id = route->account_id;
    return serve::answer(request, state, requests_);
  }
  // /readyz and /metrics speak for every exchange.
  std::vector<const engine::Metrics*> parts;
  for (const auto& r : routes_) parts.push_back(&r.engine->metrics());
  engine::Metrics combined = engine::combine(parts);
  combined.requests = requests_.requests;
  state.metrics = &combined;
  return serve::answer(request, state, requests_);
}

bool ServeDriver::all_delivered() const {
  return std::all_of(routes_.begin(), routes_.end(),
                     [](const ServedRoute& r) { return r.store->latest() != nullptr; });
}

bool ServeDriver::any_delivered() const {
  return std::any_of(routes_.begin(), routes_.end(),
                     [](const ServedRoute& r) { return r.store->latest() != nullptr; });
}

void ServeDriver::give_up(const Error& error) {
  for (auto& r : routes_) r.engine->post(engine::event::GiveUp{error});
}

Result<void> ServeDriver::start(std::function<void()> ready) {
  ready_ = std::move(ready);
  raise_descriptor_limit();
  AWH_TRY(token, serve::make_token());
  token_ = util::SecretString(std::move(*token));
  // botocore rejects a token with a line break, so the file holds the token and nothing else.
  util::AtomicWriteOptions options;
  options.keep_existing_mode = false;  // 0600, whatever was there before
  // A shared emptyDir (0777) is where the application container reads the token; the token only
  // opens this endpoint, and is never written through another user's symlink or file.
  options.shared_directory_ok = true;
  if (auto written = util::write_file_atomically(config_.token_file, token_.str(), options);
      !written) {
    return written.error();
  }
  for (auto& r : routes_) r.store->on_update([this] { credentials_arrived(); });
  first_deadline_.expires_after(timeout_);
  first_deadline_.async_wait([this](boost::system::error_code ec) {
    if (ec || all_delivered()) return;
    if (!any_delivered()) {
      give_up(make_error(errc::timeout,
                         fmt::format("no credentials within --timeout ({} s); the errors above say "
                                     "why",
                                     timeout_.count())));
      return;
    }
    std::string missing;
    for (const auto& r : routes_) {
      if (!r.store->latest()) missing += (missing.empty() ? "" : ", ") + r.path;
    }
    log::warn(
        "no credentials for {} within the timeout ({} s); serving the others (503 there "
        "until they arrive)",
        missing, timeout_.count());
    if (!listening_) {
      if (auto listened = listen(); !listened) give_up(listened.error());
    }
  });
  if (config_.listen_before_ready) return listen();
  return {};
}

void ServeDriver::credentials_arrived() {
  if (!all_delivered()) return;
  first_deadline_.cancel();
  if (!listening_) {
    if (auto listened = listen(); !listened) {
      give_up(listened.error());
      return;
    }
  }
  if (ready_) std::exchange(ready_, nullptr)();
}

Result<void> ServeDriver::listen() {
  std::vector<tcp::endpoint> endpoints;
  for (const auto& b : config_.binds) endpoints.emplace_back(asio::ip::make_address(b.ip), b.port);
  auto listened = server_.listen(endpoints);
  if (!listened && config_.default_binds) {
    // A host without IPv6 loopback still serves on IPv4.
    log::warn("{}; serving on IPv4 only", listened.error().message);
    endpoints.erase(std::remove_if(endpoints.begin(), endpoints.end(),
                                   [](const auto& e) { return e.address().is_v6(); }),
                    endpoints.end());
    listened = server_.listen(endpoints);
  }
  if (!listened) return listened.error();
  listening_ = true;
  const auto bound = server_.local_endpoints();
  std::string urls;
  for (const auto& ep : bound) {
    for (const auto& r : routes_) urls += (urls.empty() ? "" : " and ") + url_of(ep, r.path);
  }
  log::info("serving credentials on {} (also /healthz and /readyz){}", urls,
            all_delivered() ? "" : "; answering 503 where no credentials have arrived yet");
  std::string token_path = config_.token_file;  // absolute, for a client started elsewhere
  if (!token_path.starts_with('/')) {
    if (char* cwd = getcwd(nullptr, 0); cwd != nullptr) {
      token_path = fmt::format("{}/{}", cwd, token_path);
      std::free(cwd);
    }
  }
  std::string out;
  for (const auto& r : routes_) {
    out += fmt::format("AWS_CONTAINER_CREDENTIALS_FULL_URI={}\n", url_of(bound.front(), r.path));
  }
  out += fmt::format("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE={}\n", token_path);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return {};
}

void ServeDriver::stop(std::function<void()> done) {
  first_deadline_.cancel();
  server_.stop(std::move(done));
}

}  // namespace awh::app
