// pmap — the worker protocol, version 1 (internal): the lines pmap and a worker process exchange
// over the worker's stdin and stdout (docs/worker-protocol.md is the reference).
//
//   pmap -> worker:  pmap-worker 1 | columns NAME... | arg NAME VALUE ... | items range|input |
//                    end, then one "item ROW ITEM" line per item
//   worker -> pmap:  pmap-worker 1 (once, after "end"), then per item in order
//                    "ok ROW V1 ... VK" or "error ROW MESSAGE"
//
// Fields are separated by one TAB; inside a field \\ \t \n \r stand for a backslash, a tab, a
// line feed and a carriage return. Lines end with LF.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pmap/item_space.hpp"

namespace pmap::detail::worker_protocol {

inline constexpr std::string_view kName = "pmap-worker";
inline constexpr int kVersion = 1;

/// Appends `field` with \, TAB, LF and CR escaped.
void append_escaped(std::string& out, std::string_view field);
/// The field with its escapes resolved (an unknown escape keeps its character).
std::string unescape(std::string_view field);

/// The lines pmap sends first, "pmap-worker\t1" to "end".
std::string header(const std::vector<std::string>& columns,
                   const std::vector<std::pair<std::string, std::string>>& args, bool input_items);

/// Appends "item\tROW\tITEM\n": the range value, or the input line (escaped).
void append_item(std::string& out, const Item& item);

/// True when `line` is a worker's reply to the header in this version ("pmap-worker\t1", maybe
/// followed by more fields).
bool is_handshake(std::string_view line);

/// A line a worker sent about an item.
struct Reply {
  enum class Kind { Ok, Error, Bad } kind = Kind::Bad;
  std::uint64_t row = 0;
  std::string message;  ///< Error: the function's message; Bad: what is wrong with the line
};

/// Parses a result line; for Ok, exactly values.size() numbers go into `values`.
Reply parse_reply(std::string_view line, std::span<double> values);

/// `line` for a message: at most 200 bytes, control characters shown as escapes.
std::string quote_line(std::string_view line);

}  // namespace pmap::detail::worker_protocol
