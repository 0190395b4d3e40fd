#include "engine/sinks.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <system_error>

#include "util/secret.hpp"
#include "util/time.hpp"

namespace awh::engine {

Result<void> StdoutSink::deliver(const creds::Credentials& credentials) {
  std::string json = creds::credential_process_json(credentials);
  json.push_back('\n');
  const bool written =
      std::fwrite(json.data(), 1, json.size(), stdout) == json.size() && std::fflush(stdout) == 0;
  const int err = errno;
  util::wipe(json);
  if (!written) {
    Error e = make_error(errc::file, fmt::format("cannot write the credentials to stdout: {}",
                                                 std::generic_category().message(err)));
    e.sys_errno = err;
    return e;
  }
  return {};
}

Result<void> FileSink::prepare() { return creds::preflight(target_); }

Result<void> FileSink::deliver(const creds::Credentials& credentials) {
  return creds::write_credentials(target_, credentials);
}

std::string FileSink::describe() const {
  return fmt::format("profile [{}] of {}", target_.profile, target_.path);
}

Result<void> MemorySink::deliver(const creds::Credentials& credentials) {
  auto next = std::make_shared<Snapshot>();
  next->credentials = credentials;
  if (auto parsed = util::parse_rfc3339(credentials.expiration)) next->expiration = *parsed;
  next->version = latest_ ? latest_->version + 1 : 1;
  next->delivered_at = std::chrono::system_clock::now();
  latest_ = std::move(next);
  if (on_update_) on_update_();
  return {};
}

}  // namespace awh::engine
