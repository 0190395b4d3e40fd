#include "spiffe/workload_wire.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <utility>

namespace awh::spiffe::wire {
namespace {

// Protocol Buffers encoding (protobuf.dev, "Encoding"): a message is a sequence of records, each
// a key varint (field_number << 3 | wire_type) and a value. Varints are little-endian base-128,
// at most 10 bytes for 64 bits. Wire types: 0 varint, 1 fixed 64-bit, 2 length-delimited
// (strings, bytes, embedded messages), 5 fixed 32-bit; 3 and 4 are the deprecated groups, which
// proto3 messages never contain. Fields may come in any order and repeat; for a non-repeated
// field the last one wins. A field whose number or wire type a parser doesn't expect is skipped.
enum WireType : unsigned { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

struct Field {
  std::uint64_t number = 0;
  unsigned type = 0;
  std::string_view bytes;  // the value of a length-delimited field
};

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool done() const { return data_.empty(); }

  // The next field, or an error naming what is wrong.
  Result<Field> next() {
    auto key = varint();
    if (!key) return key.error();
    Field field;
    field.number = *key >> 3;
    field.type = static_cast<unsigned>(*key & 7);
    if (field.number == 0 || field.number > 0x1fffffff) return fail("a field number out of range");
    switch (field.type) {
      case kVarint:
        if (auto v = varint(); !v) return v.error();
        break;
      case kFixed64:
        if (!skip(8)) return fail("a truncated fixed 64-bit field");
        break;
      case kFixed32:
        if (!skip(4)) return fail("a truncated fixed 32-bit field");
        break;
      case kLengthDelimited: {
        auto length = varint();
        if (!length) return length.error();
        if (*length > data_.size()) return fail("a field longer than the message");
        field.bytes = data_.substr(0, static_cast<std::size_t>(*length));
        data_.remove_prefix(static_cast<std::size_t>(*length));
        break;
      }
      default:
        return fail(fmt::format("wire type {} in field {}", field.type, field.number));
    }
    return field;
  }

 private:
  static Error fail(std::string what) { return make_error(errc::invalid_input, std::move(what)); }

  Result<std::uint64_t> varint() {
    std::uint64_t value = 0;
    for (unsigned i = 0; i < 10; ++i) {
      if (i == data_.size()) return fail("a truncated varint");
      const auto byte = static_cast<unsigned char>(data_[i]);
      if (i == 9 && byte > 1) return fail("a varint over 64 bits");
      value |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) {
        data_.remove_prefix(i + 1);
        return value;
      }
    }
    return fail("a varint over 64 bits");
  }

  bool skip(std::size_t n) {
    if (n > data_.size()) return false;
    data_.remove_prefix(n);
    return true;
  }

  std::string_view data_;
};

// Calls on_field(field) for each field of `message`; the first error, if any, is returned.
template <class F>
Result<void> each_field(std::string_view message, F&& on_field) {
  Reader reader(message);
  while (!reader.done()) {
    auto field = reader.next();
    if (!field) return field.error();
    on_field(*field);
  }
  return {};
}

// The fields our code reads are all length-delimited; one with another wire type is skipped,
// as protobuf's own parsers treat a known number with an unexpected wire type as unknown.
bool is(const Field& f, std::uint64_t number) {
  return f.number == number && f.type == kLengthDelimited;
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_bytes(std::string& out, std::uint64_t number, std::string_view value) {
  put_varint(out, number << 3 | kLengthDelimited);
  put_varint(out, value.size());
  out.append(value);
}

Error malformed(std::string_view message, const Error& why) {
  return make_error(errc::invalid_input, fmt::format("a malformed {}: {}", message, why.message));
}

// A response whose field 1 repeats an SVID message named `svid` (its response is `svid` +
// "Response"); `fill` takes each field of one SVID.
template <class Svid, class Fill>
Result<std::vector<Svid>> repeated_svids(std::string_view message, std::string_view svid,
                                         Fill fill) {
  std::vector<Svid> svids;
  std::optional<Error> inner;
  auto outer = each_field(message, [&](const Field& f) {
    if (inner || !is(f, 1)) return;
    Svid one;
    if (auto parsed = each_field(f.bytes, [&](const Field& g) { fill(one, g); }); !parsed) {
      inner = parsed.error();
      return;
    }
    svids.push_back(std::move(one));
  });
  if (!outer) return malformed(fmt::format("{}Response", svid), outer.error());
  if (inner) return malformed(svid, *inner);
  return svids;
}

}  // namespace

std::string jwt_svid_request(std::string_view audience,
                             const std::optional<std::string>& spiffe_id) {
  std::string out;
  put_bytes(out, 1, audience);
  if (spiffe_id && !spiffe_id->empty()) put_bytes(out, 2, *spiffe_id);  // proto3: "" is absent
  return out;
}

Result<std::vector<RawX509Svid>> x509_svid_response(std::string_view message) {
  return repeated_svids<RawX509Svid>(message, "X509SVID", [](RawX509Svid& svid, const Field& f) {
    if (is(f, 1)) svid.spiffe_id = f.bytes;
    if (is(f, 2)) svid.cert_chain_der = f.bytes;
    if (is(f, 3)) svid.key_der = std::string(f.bytes);
    if (is(f, 4)) svid.bundle_der = f.bytes;
    if (is(f, 5)) svid.hint = f.bytes;
  });
}

Result<std::vector<RawJwtSvid>> jwt_svid_response(std::string_view message) {
  return repeated_svids<RawJwtSvid>(message, "JWTSVID", [](RawJwtSvid& svid, const Field& f) {
    if (is(f, 1)) svid.spiffe_id = f.bytes;
    if (is(f, 2)) svid.token = std::string(f.bytes);
    if (is(f, 3)) svid.hint = f.bytes;
  });
}

}  // namespace awh::spiffe::wire
