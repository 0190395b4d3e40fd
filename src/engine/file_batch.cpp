#include "engine/file_batch.hpp"

#include <fmt/format.h>

#include "util/log.hpp"

namespace awh::engine {

class ProfileFile::ProfileSink final : public Sink {
 public:
  ProfileSink(ProfileFile& file, std::size_t lane) : file_(file), lane_(lane) {}
  Result<void> prepare() override { return file_.prepare(); }
  Result<void> deliver(const creds::Credentials& credentials) override {
    // Synchronous callers (a one-shot run) write at once.
    return creds::write_profiles(file_.file_, {{file_.lanes_[lane_].profile, &credentials}});
  }
  boost::asio::awaitable<Result<void>> deliver_async(
      const creds::Credentials& credentials) override {
    return file_.deliver(lane_, credentials);
  }
  void exchanging(bool on) override { file_.set_exchanging(lane_, on); }
  std::string describe() const override {
    return fmt::format("profile [{}] of {}", file_.lanes_[lane_].profile, file_.file_.path);
  }

 private:
  ProfileFile& file_;
  std::size_t lane_;
};

ProfileFile::ProfileFile(boost::asio::any_io_executor executor, creds::FileTarget file,
                         std::chrono::milliseconds max_wait)
    : executor_(std::move(executor)), file_(std::move(file)), max_wait_(max_wait) {}

std::unique_ptr<Sink> ProfileFile::sink_for(std::string profile) {
  Lane lane;
  lane.profile = std::move(profile);
  lane.changed = std::make_unique<util::AsyncEvent>(executor_);
  lanes_.push_back(std::move(lane));
  return std::make_unique<ProfileSink>(*this, lanes_.size() - 1);
}

Result<void> ProfileFile::prepare() {
  // Once for the file, whatever the number of profiles.
  if (!prepared_) prepared_ = creds::preflight(file_);
  return *prepared_;
}

void ProfileFile::stop() {
  stopped_ = true;
  notify_all();
}

void ProfileFile::notify_all() {
  for (auto& lane : lanes_) lane.changed->notify();
}

void ProfileFile::set_exchanging(std::size_t lane, bool on) {
  lanes_[lane].exchanging = on;
  if (!on) notify_all();
}

bool ProfileFile::others_in_flight(std::size_t lane) const {
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    if (i != lane && lanes_[i].exchanging && !lanes_[i].staged) return true;
  }
  return false;
}

Result<void> ProfileFile::flush() {
  std::vector<creds::ProfileCredentials> entries;
  for (const auto& lane : lanes_) {
    if (lane.staged) entries.push_back({lane.profile, &*lane.staged});
  }
  auto result = creds::write_profiles(file_, entries);
  ++writes_;
  if (entries.size() > 1 && result) {
    std::string names;
    for (const auto& e : entries)
      names += fmt::format("{}[{}]", names.empty() ? "" : ", ", e.profile);
    log::debug("wrote profiles {} of {} in one rename", names, file_.path);
  }
  for (auto& lane : lanes_) {
    if (!lane.staged) continue;
    lane.staged.reset();
    lane.last_result = result;
  }
  notify_all();
  return result;
}

boost::asio::awaitable<Result<void>> ProfileFile::deliver(std::size_t lane,
                                                          creds::Credentials credentials) {
  lanes_[lane].staged = std::move(credentials);
  lanes_[lane].last_result.reset();
  const auto until = std::chrono::steady_clock::now() + max_wait_;
  while (!stopped_ && lanes_[lane].staged && others_in_flight(lane) &&
         std::chrono::steady_clock::now() < until) {
    co_await lanes_[lane].changed->wait_until(until);
  }
  if (stopped_) {
    lanes_[lane].staged.reset();
    co_return make_error(errc::internal, "stopping: the credentials were not written");
  }
  // Another profile's write carried ours.
  if (!lanes_[lane].staged && lanes_[lane].last_result) co_return *lanes_[lane].last_result;
  co_return flush();
}

}  // namespace awh::engine
