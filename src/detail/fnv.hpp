// pmap — FNV-1a 64, fed in pieces: the fingerprints pmap stores (items, URL lists) and the hash
// that shards URLs by host (private).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace pmap::detail {

class Fnv1a64 {
 public:
  /// Feeds `len` bytes at `data`.
  void add(const void* data, std::size_t len) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < len; ++i) {
      hash_ ^= p[i];
      hash_ *= 0x100000001b3ULL;  // FNV 64 prime
    }
  }
  void add(std::string_view text) noexcept { add(text.data(), text.size()); }
  [[nodiscard]] std::uint64_t value() const noexcept { return hash_; }
  /// The hash as 16 lower-case hex digits.
  [[nodiscard]] std::string hex() const {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash_));
    return buf;
  }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;  // FNV-1a 64 offset basis
};

}  // namespace pmap::detail
