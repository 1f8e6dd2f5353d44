// pmap — which URLs of a list may appear more than once, in about 1.25 bytes a URL (private).
//
// One pass adds every URL to a Bloom filter (10 bits a URL, 7 probes); a URL the filter has
// already seen is a candidate, whose fingerprint is kept exactly. After the pass, every URL that
// appears twice is a candidate (a Bloom filter has no false negatives), and so are about 1% of
// the others. The checker then remembers only candidates, so its memory does not grow with the
// list: 10^6 URLs cost 1.2 MB here instead of 16 MB of fingerprints.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "fingerprint_set.hpp"

namespace pmap::detail {

class RepeatFilter {
 public:
  /// Sized for `urls` additions (at least 64 Ki bits).
  explicit RepeatFilter(std::uint64_t urls) {
    std::uint64_t bits = 1 << 16;
    while (bits < urls * 10) bits <<= 1;
    bits_.assign(bits / 64, 0);
    mask_ = bits - 1;
  }

  /// First pass: one call per line of the list, repeats included.
  void add(std::string_view url) {
    const Fingerprint key = fingerprint(url);
    bool all_set = true;
    for (std::uint64_t i = 0; i < probes; ++i) {
      const std::uint64_t bit = (key.a + i * (key.b | 1)) & mask_;
      std::uint64_t& word = bits_[bit / 64];
      const std::uint64_t m = std::uint64_t{1} << (bit % 64);
      all_set = all_set && (word & m) != 0;
      word |= m;
    }
    if (all_set) candidates_.insert(key, 0);
  }

  /// False only for a URL that appeared once in the first pass.
  [[nodiscard]] bool may_repeat(std::string_view url) const {
    return candidates_.find(fingerprint(url)).has_value();
  }

  /// URLs kept as candidates (repeated ones and false positives).
  [[nodiscard]] std::size_t candidates() const noexcept { return candidates_.size(); }

 private:
  static constexpr std::uint64_t probes = 7;
  std::vector<std::uint64_t> bits_;
  std::uint64_t mask_ = 0;
  FingerprintSet candidates_;
};

}  // namespace pmap::detail
