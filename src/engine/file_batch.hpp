#pragma once
// Several profiles of one AWS credentials file, kept fresh by several engines (--config: one
// engine per exchange). Each engine gets a Sink for its profile; the file is written by
// read-modify-rename (creds::write_profiles), and deliveries that overlap are coalesced into one
// rename: a delivery waits, at most `max_wait`, while another profile of the same file has an
// exchange in flight, and then one write carries every profile staged by then. At start-up,
// when every exchange runs at once, the file is therefore renamed once, not once per profile.
// A profile whose exchange fails releases the waiters at once (Sink::exchanging(false)).
//
// Every write sets only the staged profiles; the file's other profiles and bytes stay (the
// writer's rules, creds/file_sink.hpp). The result of a write is the result of every delivery
// it carried. Threads: the io_context's only; the ProfileFile must outlive its sinks.

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "creds/file_sink.hpp"
#include "engine/pieces.hpp"
#include "util/async_event.hpp"

namespace awh::engine {

class ProfileFile {
 public:
  // `file`: the path and --force/--replace (its profile is unused).
  ProfileFile(boost::asio::any_io_executor executor, creds::FileTarget file,
              std::chrono::milliseconds max_wait = std::chrono::seconds(5));
  ProfileFile(const ProfileFile&) = delete;
  ProfileFile& operator=(const ProfileFile&) = delete;

  // The sink of one profile (each profile once).
  std::unique_ptr<Sink> sink_for(std::string profile);
  // From now on nothing is written; waiting deliveries end with an error.
  void stop();
  const std::string& path() const { return file_.path; }
  // How many times the file was written (tests, logs).
  int writes() const { return writes_; }

 private:
  class ProfileSink;
  struct Lane {
    std::string profile;
    bool exchanging = false;
    std::optional<creds::Credentials> staged;  // delivered, not written yet
    std::optional<Result<void>> last_result;   // of the write that carried the last staged
    std::unique_ptr<util::AsyncEvent> changed;
  };
  Result<void> prepare();
  void set_exchanging(std::size_t lane, bool on);
  boost::asio::awaitable<Result<void>> deliver(std::size_t lane, creds::Credentials credentials);
  bool others_in_flight(std::size_t lane) const;
  Result<void> flush();
  void notify_all();

  boost::asio::any_io_executor executor_;
  creds::FileTarget file_;
  std::chrono::milliseconds max_wait_;
  std::vector<Lane> lanes_;
  std::optional<Result<void>> prepared_;
  bool stopped_ = false;
  int writes_ = 0;
};

}  // namespace awh::engine
