#pragma once
// A string holding secret bytes (a private key, a token) that wipes its buffer when it is
// destroyed, overwritten or moved from, so copies don't linger in freed memory.

#include <string.h>

#include <string>
#include <string_view>
#include <utility>

namespace awh::util {

class SecretString {
 public:
  SecretString() = default;
  SecretString(std::string value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  SecretString(const char* value) : value_(value) {}              // NOLINT
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
  operator std::string_view() const { return value_; }  // NOLINT
  bool empty() const { return value_.empty(); }
  std::size_t size() const { return value_.size(); }

 private:
  // Clears the whole capacity: a moved-from or shrunk string keeps old bytes in its buffer.
  void wipe() noexcept {
    value_.resize(value_.capacity());
    explicit_bzero(value_.data(), value_.size());
    value_.clear();
  }
  std::string value_;
};

}  // namespace awh::util
