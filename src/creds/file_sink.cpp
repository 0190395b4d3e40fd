#include "creds/file_sink.hpp"

#include <fmt/format.h>

#include "creds/ini.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"
#include "util/secret.hpp"

namespace awh::creds {
namespace {

Error unparseable(const FileTarget& target, const Error& e) {
  return make_error(errc::invalid_input,
                    fmt::format("the credentials file {} can't be parsed: {}; it was left unchanged "
                                "(fix it, or use --force to overwrite it)",
                                target.path, e.message));
}

}  // namespace

Result<void> preflight(const FileTarget& target) {
  if (auto dir = util::prepare_directory(target.path); !dir) return dir.error();
  if (target.replace) return {};
  auto existing = util::read_file_if_exists(target.path);
  if (!existing) {
    if (target.force) return {};  // --force: whatever is there gets overwritten
    return existing.error();
  }
  if (!*existing) return {};
  const util::SecretString contents(std::move(**existing));  // it holds secrets: wipe it after
  if (auto parsed = check_parseable(contents); !parsed && !target.force) return unparseable(target, parsed.error());
  return {};
}

Result<void> write_credentials(const FileTarget& target, const Credentials& c) {
  if (auto valid = validate_entry(target.profile, c); !valid) return valid.error();
  util::SecretString updated;
  if (target.replace) {
    updated = render_profile(target.profile, c);
  } else {
    auto existing = util::read_file_if_exists(target.path);
    if (!existing && !target.force) return existing.error();
    if (!existing || !*existing) {
      if (!existing) log::warn("{}; --force: writing a new file", existing.error().message);
      updated = render_profile(target.profile, c);
    } else {
      const util::SecretString contents(std::move(**existing));
      auto edited = upsert_profile(contents, target.profile, c);
      if (edited) {
        updated = std::move(*edited);
      } else if (edited.error().code == errc::invalid_input && target.force &&
                 check_parseable(contents).has_error()) {
        log::warn("the credentials file {} can't be parsed ({}); --force: overwriting it", target.path,
                  edited.error().message);
        updated = render_profile(target.profile, c);
      } else if (check_parseable(contents).has_error()) {
        return unparseable(target, edited.error());
      } else {
        return edited.error();
      }
    }
  }
  return util::write_file_atomically(target.path, updated);
}

}  // namespace awh::creds
