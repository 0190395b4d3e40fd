#pragma once
// The outputs: credential_process JSON on stdout, a credentials-file profile, and an in-memory
// store (what a local credential endpoint serves).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "creds/file_sink.hpp"
#include "engine/pieces.hpp"

namespace awh::engine {

// The credential_process JSON (AWS SDKs "Sourcing credentials with an external process"): all of
// it and a newline, or an error. The buffer is wiped afterwards.
class StdoutSink final : public Sink {
 public:
  Result<void> deliver(const creds::Credentials& credentials) override;
  std::string describe() const override { return "stdout"; }
  bool logs_delivery() const override { return false; }
};

// A profile in an AWS credentials file, written atomically (creds/file_sink.hpp).
class FileSink final : public Sink {
 public:
  explicit FileSink(creds::FileTarget target) : target_(std::move(target)) {}
  Result<void> prepare() override;
  Result<void> deliver(const creds::Credentials& credentials) override;
  std::string describe() const override;

 private:
  creds::FileTarget target_;
};

// The latest credentials, held in memory for readers on the same io_context (the coming
// `serve` command). Readers get a shared snapshot that stays valid while they hold it.
class MemorySink final : public Sink {
 public:
  // `description`: what logs call it.
  explicit MemorySink(std::string description = "the in-memory store")
      : description_(std::move(description)) {}
  struct Snapshot {
    creds::Credentials credentials;
    std::optional<WallTime> expiration;  // parsed; nullopt if the service's text didn't parse
    std::uint64_t version = 0;           // 1 for the first delivery, then +1 each time
    WallTime delivered_at{};             // when they arrived (IMDS's LastUpdated)
  };
  Result<void> deliver(const creds::Credentials& credentials) override;
  std::string describe() const override { return description_; }
  std::shared_ptr<const Snapshot> latest() const { return latest_; }
  // Runs after each delivery (the serve driver starts listening on the first one).
  void on_update(std::function<void()> f) { on_update_ = std::move(f); }

 private:
  std::string description_;
  std::shared_ptr<const Snapshot> latest_;
  std::function<void()> on_update_;
};

}  // namespace awh::engine
