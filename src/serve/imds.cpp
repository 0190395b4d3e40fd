#include "serve/imds.hpp"

#include <algorithm>

#include "serve/routes.hpp"

namespace awh::serve {

void ImdsTokens::evict(Time now) {
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [&](const Entry& e) { return e.expires <= now; }),
                 entries_.end());
}

Result<std::string> ImdsTokens::issue(std::chrono::seconds ttl, Time now) {
  evict(now);
  if (entries_.size() >= capacity_) {
    return make_error(errc::throttled, "too many live IMDS session tokens; try again later");
  }
  AWH_TRY(token, make_token());
  entries_.push_back(Entry{util::SecretString(*token), now + ttl});
  return std::move(*token);
}

std::optional<std::chrono::seconds> ImdsTokens::check(std::string_view token, Time now) {
  evict(now);
  std::optional<std::chrono::seconds> left;
  // Every entry is compared (in constant time each), so the time taken says nothing of a match.
  for (const auto& e : entries_) {
    if (token_matches(token, e.token)) {
      left = std::chrono::ceil<std::chrono::seconds>(e.expires - now);
    }
  }
  return left;
}

std::size_t ImdsTokens::live(Time now) {
  evict(now);
  return entries_.size();
}

}  // namespace awh::serve
