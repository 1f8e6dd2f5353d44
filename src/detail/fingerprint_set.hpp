// pmap — a compact set of 128-bit string fingerprints with a 64-bit value each (private).
//
// Remembers which URLs were seen (and where first) in 16 bytes a slot instead of the URL itself:
// two of n different strings share the 88 bits kept with odds of about n^2 / 2^89 (10^-15 for a
// million URLs).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

namespace pmap::detail {

/// Two independent 64-bit hashes of a string (seeded multiply-xorshift over 8-byte words).
struct Fingerprint {
  std::uint64_t a = 0, b = 0;
  friend bool operator==(const Fingerprint&, const Fingerprint&) = default;
};

inline std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ULL;
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ULL;
  x ^= x >> 32;
  return x;
}

inline std::uint64_t seeded_hash(std::string_view text, std::uint64_t seed) noexcept {
  std::uint64_t h = mix64(seed ^ (text.size() * 0x9e3779b97f4a7c15ULL));
  std::size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, text.data() + i, 8);
    h = mix64(h ^ word) + seed;
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, text.data() + i, text.size() - i);
  return mix64(h ^ tail ^ (seed << 1));
}

inline Fingerprint fingerprint(std::string_view text) noexcept {
  return {seeded_hash(text, 0x243f6a8885a308d3ULL), seeded_hash(text, 0x13198a2e03707344ULL)};
}

/// Open addressing with linear probing, 16 bytes a slot: 88 bits of the fingerprint and a
/// 40-bit value. Grows at 3/4 load.
class FingerprintSet {
 public:
  /// Largest value that can be stored.
  static constexpr std::uint64_t max_value = (std::uint64_t{1} << 40) - 1;

  /// The value stored with `key`, if any.
  [[nodiscard]] std::optional<std::uint64_t> find(const Fingerprint& key) const {
    if (slots_.empty()) return std::nullopt;
    const std::uint64_t a = slot_key(key);
    const std::uint64_t b = high_bits(key);
    for (std::size_t i = a & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.a == 0) return std::nullopt;
      if (s.a == a && (s.rest >> 40) == b) return s.rest & max_value;
    }
  }
  /// Stores key -> value (value <= max_value); a key already present keeps its first value.
  void insert(const Fingerprint& key, std::uint64_t value) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    place(slot_key(key), (high_bits(key) << 40) | (value & max_value));
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  struct Slot {
    std::uint64_t a = 0;     // first hash, never 0 in a used slot
    std::uint64_t rest = 0;  // 24 bits of the second hash, then the value
  };
  static std::uint64_t slot_key(const Fingerprint& key) noexcept { return key.a == 0 ? 1 : key.a; }
  static std::uint64_t high_bits(const Fingerprint& key) noexcept { return key.b >> 40; }
  void place(std::uint64_t a, std::uint64_t rest) {
    for (std::size_t i = a & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.a == 0) {
        s = {a, rest};
        ++size_;
        return;
      }
      if (s.a == a && (s.rest >> 40) == (rest >> 40)) return;
    }
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    size_ = 0;
    for (const Slot& s : old) {
      if (s.a != 0) place(s.a, s.rest);
    }
  }
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace pmap::detail
