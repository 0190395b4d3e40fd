#pragma once
// Secrets in memory. A string holding secret bytes (a private key, a token) that wipes its buffer
// when it is destroyed, overwritten or moved from, so copies don't linger in freed memory.

#include <string.h>

#include <string>
#include <string_view>
#include <utility>

namespace awh::util {

// Overwrites every byte `s` owns (its whole capacity: a shrunk string keeps old bytes in its
// buffer) and empties it. The one wiping primitive: SecretString and the few plain strings that
// briefly hold a secret (a response body, the credential_process JSON) use it.
inline void wipe(std::string& s) noexcept {
  s.resize(s.capacity());
  explicit_bzero(s.data(), s.size());
  s.clear();
}

class SecretString {
 public:
  SecretString() = default;
  SecretString(std::string value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  SecretString(const char* value) : value_(value) {}             // NOLINT
  SecretString(const SecretString&) = default;
  SecretString(SecretString&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
  SecretString& operator=(const SecretString& other) {
    if (this != &other) {
      wipe();
      value_ = other.value_;
    }
    return *this;
  }
  SecretString& operator=(SecretString&& other) noexcept {
    if (this != &other) {
      wipe();
      value_ = std::move(other.value_);
      other.wipe();
    }
    return *this;
  }
  ~SecretString() { wipe(); }

  const std::string& str() const { return value_; }
  char* data() { return value_.data(); }                // for parsers that work in place (rapidxml)
  operator std::string_view() const { return value_; }  // NOLINT
  bool empty() const { return value_.empty(); }
  std::size_t size() const { return value_.size(); }

 private:
  void wipe() noexcept { util::wipe(value_); }
  std::string value_;
};

}  // namespace awh::util
