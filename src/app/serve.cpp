#include "app/serve.hpp"

#include <sys/resource.h>

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>

#include <cstdio>
#include <filesystem>
#include <utility>

#include "util/atomic_file.hpp"
#include "util/log.hpp"

namespace awh::app {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string url_of(const tcp::endpoint& ep) {
  return fmt::format("http://{}{}", serve::endpoint_text(ep), serve::kCredentialsPath);
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
    : command_(std::move(command)),
      config_(config),
      timeout_(timeout),
      store_(store),
      engine_(engine),
      imds_{config.role_name, config.region, config.imdsv1},
      server_(
          executor,
          [this](const serve::Request& request) {
            serve::RouteState state{token_, store_.latest(), config_.account_id, &imds_,
                                    &imds_tokens_};
            state.metrics = &engine_.metrics();
            state.version = AWH_VERSION;
            state.command = command_;
            return serve::answer(request, state, engine_.metrics());
          },
          [&] {
            serve::ServerLimits limits;
            limits.hop_limit = config.hop_limit;
            return limits;
          }()),
      first_deadline_(executor) {}

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
  store_.on_update([this] { credentials_arrived(); });
  first_deadline_.expires_after(timeout_);
  first_deadline_.async_wait([this](boost::system::error_code ec) {
    if (ec || store_.latest()) return;
    engine_.post(engine::event::GiveUp{
        make_error(errc::timeout,
                   fmt::format("no credentials within --timeout ({} s); the errors above say why",
                               timeout_.count()))});
  });
  if (config_.listen_before_ready) return listen();
  return {};
}

void ServeDriver::credentials_arrived() {
  first_deadline_.cancel();
  if (!listening_) {
    if (auto listened = listen(); !listened) {
      engine_.post(engine::event::GiveUp{listened.error()});
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
  for (const auto& ep : bound) urls += (urls.empty() ? "" : " and ") + url_of(ep);
  log::info("serving credentials on {} (also /healthz and /readyz){}", urls,
            store_.latest() ? "" : "; answering 503 until the first credentials arrive");
  std::error_code ec;
  const auto token_path = std::filesystem::absolute(config_.token_file, ec);
  const std::string out = fmt::format(
      "AWS_CONTAINER_CREDENTIALS_FULL_URI={}\nAWS_CONTAINER_AUTHORIZATION_TOKEN_FILE={}\n",
      url_of(bound.front()), ec ? config_.token_file : token_path.string());
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return {};
}

void ServeDriver::stop(std::function<void()> done) {
  first_deadline_.cancel();
  server_.stop(std::move(done));
}

}  // namespace awh::app
