// Records of (64-bit key, text) packed into one byte string, to travel in one MPI message:
// item errors to rank 0, item failures to every rank.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace pmap::detail {

/// Appends one record: the key, the text's length (8 bytes each, native order), the text.
inline void append_keyed(std::string& buf, std::uint64_t key, std::string_view text) {
  const std::uint64_t len = text.size();
  buf.append(reinterpret_cast<const char*>(&key), sizeof key);
  buf.append(reinterpret_cast<const char*>(&len), sizeof len);
  buf.append(text);
}

/// Calls fn(key, text) for every record of `all`, in order.
template <typename Fn>
void for_each_keyed(std::string_view all, Fn&& fn) {
  std::size_t pos = 0;
  while (pos + 16 <= all.size()) {
    std::uint64_t key = 0;
    std::uint64_t len = 0;
    std::memcpy(&key, all.data() + pos, 8);
    std::memcpy(&len, all.data() + pos + 8, 8);
    fn(key, all.substr(pos + 16, len));
    pos += 16 + len;
  }
}

}  // namespace pmap::detail
