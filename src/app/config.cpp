#include "app/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/atomic_file.hpp"

namespace awh::app {
namespace {

constexpr std::string_view kExchangesKey = "exchanges";
constexpr std::size_t kMaxServePath = 256;

int line_of(const YAML::Node& node) { return node.Mark().line + 1; }  // yaml-cpp counts from 0

const ConfigKeySpec* find_spec(const ConfigSchema& schema, std::string_view key) {
  const auto it = std::find_if(schema.begin(), schema.end(),
                               [&](const ConfigKeySpec& s) { return s.name == key; });
  return it == schema.end() ? nullptr : &*it;
}

std::string_view kind_name(YAML::NodeType::value type) {
  switch (type) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "a value";
  }
}

// The three places a key can be written.
enum class Place { top, exchange, serve };

bool allowed(KeyScope scope, Place place) {
  switch (place) {
    case Place::top:
      return scope == KeyScope::daemon || scope == KeyScope::both;
    case Place::exchange:
      return scope == KeyScope::exchange || scope == KeyScope::both;
    case Place::serve:
      return scope == KeyScope::serve;
  }
  return false;
}

std::string known_keys(const ConfigSchema& schema, Place place) {
  std::string out;
  for (const auto& s : schema) {
    if (allowed(s.scope, place)) out += (out.empty() ? "" : ", ") + s.name;
  }
  if (place == Place::top) out += fmt::format(", {}, {}", kServeKey, kExchangesKey);
  return out;
}

// Why a known key is not allowed at `place`.
std::string misplaced(const std::string& key, KeyScope scope) {
  switch (scope) {
    case KeyScope::daemon:
      return fmt::format("{}: applies to the whole daemon; set it at the top level", key);
    case KeyScope::exchange:
      return fmt::format("{}: belongs in an exchange (under {})", key, kExchangesKey);
    case KeyScope::serve:
      return fmt::format("{}: belongs in the {} block", key, kServeKey);
    case KeyScope::both:
      break;
  }
  return fmt::format("{}: not allowed here", key);
}

Result<ConfigValue> read_value(const YAML::Node& node, const ConfigKeySpec& spec, int key_line,
                               const std::string& path, std::string_view where) {
  const auto scalar = [&](const YAML::Node& n) -> Result<std::string> {
    if (!n.IsScalar()) {
      return config_error(path, line_of(n),
                          fmt::format("{}{}: expected {}, found {}", where, spec.name,
                                      spec.list ? "a value or a list of values"
                                                : "a single value (a string or a "
                                                  "number)",
                                      kind_name(n.Type())));
    }
    if (n.Scalar().empty()) {
      return config_error(path, line_of(n),
                          fmt::format("{}{}: the value is empty", where, spec.name));
    }
    return n.Scalar();
  };
  ConfigValue out;
  out.line = line_of(node);
  if (spec.list && node.IsSequence()) {
    if (node.size() == 0) {
      return config_error(path, key_line, fmt::format("{}{}: the list is empty", where, spec.name));
    }
    for (const auto& item : node) {
      AWH_TRY(text, scalar(item));
      out.values.push_back(std::move(*text));
    }
  } else {
    AWH_TRY(text, scalar(node));
    out.values.push_back(std::move(*text));
  }
  out.text = out.values.front();
  if (spec.boolean && out.text != "true" && out.text != "false") {
    return config_error(
        path, out.line,
        fmt::format("{}{}: expected true or false, found '{}'", where, spec.name, out.text));
  }
  return out;
}

// Reads one mapping's keys, checking names, places, duplicates and types. `where` prefixes
// messages ("exchanges[1]: "). Keys in `skip` are left to the caller.
Result<ConfigKeys> read_keys(const YAML::Node& map, const std::string& path,
                             const ConfigSchema& schema, Place place, std::string_view where,
                             std::initializer_list<std::string_view> skip = {}) {
  ConfigKeys keys;
  for (const auto& item : map) {
    const int line = line_of(item.first);
    if (!item.first.IsScalar()) {
      return config_error(path, line, fmt::format("{}a key must be a name", where));
    }
    const std::string key = item.first.Scalar();
    if (std::find(skip.begin(), skip.end(), key) != skip.end()) continue;
    const ConfigKeySpec* spec = find_spec(schema, key);
    if (spec == nullptr) {
      return config_error(path, line,
                          fmt::format("{}unknown key '{}' (known keys here: {})", where, key,
                                      known_keys(schema, place)));
    }
    if (!allowed(spec->scope, place)) {
      return config_error(path, line, fmt::format("{}{}", where, misplaced(key, spec->scope)));
    }
    if (keys.count(key) != 0) {
      return config_error(
          path, line,
          fmt::format("{}{}: given twice (also on line {})", where, key, keys.at(key).line));
    }
    AWH_TRY(value, read_value(item.second, *spec, line, path, where));
    keys[key] = std::move(*value);
  }
  return keys;
}

Result<ConfigExchange> read_exchange(const YAML::Node& node, std::size_t index,
                                     const ConfigFile& file, const ConfigSchema& schema) {
  const std::string where = fmt::format("{}[{}]: ", kExchangesKey, index);
  const int line = line_of(node);
  if (!node.IsMap()) {
    return config_error(
        file.path, line,
        fmt::format("{}expected a mapping of keys (profile, role-arn, ...), found {}", where,
                    kind_name(node.Type())));
  }
  AWH_TRY(keys, read_keys(node, file.path, schema, Place::exchange, where));
  ConfigExchange out{line, false, std::move(*keys)};
  constexpr std::string_view kX509Keys[] = {"trust-anchor-arn", "profile-arn"};
  constexpr std::string_view kX509Required[] = {"trust-anchor-arn", "profile-arn", "role-arn"};
  const auto x509_key = std::find_if(std::begin(kX509Keys), std::end(kX509Keys),
                                     [&](std::string_view k) { return out.keys.count(k) != 0; });
  const bool x509 = x509_key != std::end(kX509Keys);
  out.jwt = out.keys.count("audience") != 0;
  if (x509 && out.jwt) {
    const auto& a = out.keys.at("audience");
    return config_error(
        file.path, a.line,
        fmt::format("{}both audience (a JWT-SVID exchange with STS) and {} (an X.509-SVID "
                    "exchange with Roles Anywhere, line {}); an exchange is one or the other",
                    where, *x509_key, out.keys.at(std::string(*x509_key)).line));
  }
  if (!x509 && !out.jwt) {
    return config_error(
        file.path, line,
        fmt::format("{}neither trust-anchor-arn, profile-arn and role-arn (X.509-SVID) nor "
                    "audience (JWT-SVID)",
                    where));
  }
  if (x509) {
    for (auto k : kX509Required) {
      if (out.keys.count(k) == 0) {
        return config_error(file.path, line,
                            fmt::format("{}missing {} (an X.509-SVID exchange needs "
                                        "trust-anchor-arn, profile-arn, role-arn)",
                                        where, k));
      }
    }
  }
  const bool to_file = out.keys.count("profile") != 0;
  const auto served = out.keys.find(kPathKey);
  if (!to_file && served == out.keys.end()) {
    return config_error(file.path, line,
                        fmt::format("{}no output: give a profile (of a credentials file) or a "
                                    "{} (on the {} endpoint), or both",
                                    where, kPathKey, kServeKey));
  }
  if (served != out.keys.end()) {
    if (auto problem = serve_path_problem(served->second.text)) {
      return config_error(
          file.path, served->second.line,
          fmt::format("{}{}: '{}' {}", where, kPathKey, served->second.text, *problem));
    }
    if (!file.serve) {
      return config_error(file.path, served->second.line,
                          fmt::format("{}{}: there is no {} block (the endpoint to serve it on, "
                                      "with its token-file) at the top level",
                                      where, kPathKey, kServeKey));
    }
  }
  // The top level's defaults.
  for (const auto& [key, value] : file.globals) {
    const ConfigKeySpec* spec = find_spec(schema, key);
    if (spec != nullptr && spec->scope == KeyScope::both && out.keys.count(key) == 0) {
      out.keys[key] = value;
    }
  }
  if (to_file && out.keys.count("aws-credentials-path") == 0) {
    return config_error(
        file.path, out.keys.at("profile").line,
        fmt::format("{}missing aws-credentials-path (here or at the top level) for profile '{}'",
                    where, out.keys.at("profile").text));
  }
  return out;
}

}  // namespace

Error config_error(const std::string& path, int line, std::string_view message) {
  return make_error(errc::usage, fmt::format("{}:{}: {}", path, line, message));
}

std::optional<std::string> serve_path_problem(std::string_view path) {
  if (path.size() > kMaxServePath) {
    return fmt::format("is longer than {} characters", kMaxServePath);
  }
  if (path.empty() || path.front() != '/') return "does not start with /";
  if (path.size() == 1) return "is the root; name a path such as /roles/reader";
  if (path.back() == '/') return "ends with /";
  for (std::size_t start = 1; start <= path.size();) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view segment = path.substr(start, end - start);
    if (segment.empty()) return "has an empty segment (//)";
    if (segment == "." || segment == "..") return "has a . or .. segment";
    for (const char c : segment) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '~' || c == '-';
      if (!ok) {
        return fmt::format("has the character {:?}; a path holds only A-Z a-z 0-9 . _ ~ - and /",
                           c);
      }
    }
    start = end + 1;
  }
  for (std::string_view own : {"/healthz", "/readyz", "/metrics"}) {
    if (path == own) return "is one of the endpoint's own routes (/healthz, /readyz, /metrics)";
  }
  if (path == "/latest" || path.starts_with("/latest/")) {
    return "is under /latest/, the IMDS routes";
  }
  return std::nullopt;
}

Result<ConfigFile> parse_config(std::string_view text, const std::string& path,
                                const ConfigSchema& schema) {
  ConfigFile file;
  file.path = path;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    return config_error(path, e.mark.line + 1, fmt::format("not valid YAML: {}", e.msg));
  }
  if (!root.IsMap()) {
    return config_error(
        path, root.IsDefined() ? line_of(root) : 1,
        fmt::format("expected a mapping with an exchanges list, found {}", kind_name(root.Type())));
  }
  AWH_TRY(globals, read_keys(root, path, schema, Place::top, "", {kExchangesKey, kServeKey}));
  file.globals = std::move(*globals);
  if (const YAML::Node serve = root[std::string(kServeKey)]) {
    if (!serve.IsMap()) {
      return config_error(path, line_of(serve),
                          fmt::format("{}: expected a mapping (token-file, bind, ...), found {}",
                                      kServeKey, kind_name(serve.Type())));
    }
    const std::string where = fmt::format("{}: ", kServeKey);
    AWH_TRY(keys, read_keys(serve, path, schema, Place::serve, where));
    if (keys->count("token-file") == 0) {
      return config_error(path, line_of(serve),
                          fmt::format("{}missing token-file (where the bearer token SDKs send "
                                      "is written)",
                                      where));
    }
    file.serve = ConfigServe{line_of(serve), std::move(*keys)};
  }
  const YAML::Node exchanges = root[std::string(kExchangesKey)];
  if (!exchanges) return config_error(path, 1, "missing exchanges (a list of exchanges)");
  if (!exchanges.IsSequence() || exchanges.size() == 0) {
    return config_error(
        path, line_of(exchanges),
        fmt::format("exchanges: expected a non-empty list, found {}",
                    exchanges.IsSequence() ? "an empty list" : kind_name(exchanges.Type())));
  }
  for (std::size_t i = 0; i < exchanges.size(); ++i) {
    AWH_TRY(exchange, read_exchange(exchanges[i], i, file, schema));
    const auto& keys = exchange->keys;
    for (std::size_t j = 0; j < file.exchanges.size(); ++j) {
      const auto& other = file.exchanges[j].keys;
      // Two exchanges can't write the same profile, nor be served at the same path.
      if (keys.count("profile") != 0 && other.count("profile") != 0 &&
          other.at("profile").text == keys.at("profile").text &&
          other.at("aws-credentials-path").text == keys.at("aws-credentials-path").text) {
        return config_error(
            path, keys.at("profile").line,
            fmt::format("exchanges[{}]: profile '{}' of {} is also written by "
                        "exchanges[{}] (line {})",
                        i, other.at("profile").text, other.at("aws-credentials-path").text, j,
                        file.exchanges[j].line));
      }
      const auto mine = keys.find(kPathKey);
      const auto theirs = other.find(kPathKey);
      if (mine != keys.end() && theirs != other.end() && mine->second.text == theirs->second.text) {
        return config_error(path, mine->second.line,
                            fmt::format("exchanges[{}]: {}: '{}' is also served by exchanges[{}] "
                                        "(line {})",
                                        i, kPathKey, mine->second.text, j, theirs->second.line));
      }
    }
    file.exchanges.push_back(std::move(*exchange));
  }
  return file;
}

Result<ConfigFile> load_config(const std::string& path, const ConfigSchema& schema) {
  // A FIFO or a directory is refused without blocking, and so is more than 1 MiB.
  auto text = util::read_file_if_exists(path, 1u << 20);
  if (!text) return make_error(errc::usage, fmt::format("--config: {}", text.error().message));
  if (!*text) {
    return make_error(errc::usage,
                      fmt::format("--config: cannot read {}: {}", path, std::strerror(ENOENT)));
  }
  return parse_config(**text, path, schema);
}

}  // namespace awh::app
