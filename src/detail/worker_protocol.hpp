// pmap — the worker protocol, version 1 (internal): the lines pmap and a worker process exchange
// over the worker's stdin and stdout (docs/worker-protocol.md is the reference).
//
//   pmap -> worker:  pmap-worker 1 | columns NAME... | arg NAME VALUE ... | items range|input |
//                    end, then "item ROW ITEM" lines, or "range ROW COUNT START STEP" lines
//                    (COUNT items at once) to a worker that offered "ranges"
//   worker -> pmap:  pmap-worker 1 [FEATURE...] (once, after "end"), then the answers in the
//                    order of the items: "ok ROW V1 ... VK", "oks ROW COUNT V..." (COUNT items,
//                    COUNT x K values) or "error ROW MESSAGE"
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

/// Appends "range\tROW\tCOUNT\tSTART\tSTEP\n": items START + i x STEP at rows ROW + i.
void append_range(std::string& out, std::uint64_t row, std::uint64_t count, std::int64_t start,
                  std::int64_t step);

/// True when `line` is a worker's reply to the header in this version ("pmap-worker\t1", maybe
/// followed by the features it offers).
bool is_handshake(std::string_view line);

/// True when the handshake `line` offers `feature` (a field after the version).
bool offers(std::string_view line, std::string_view feature);

/// A line a worker sent about items.
struct Reply {
  enum class Kind { Ok, Error, Bad } kind = Kind::Bad;
  std::uint64_t row = 0;    ///< the first item's row
  std::uint64_t count = 1;  ///< items answered (oks: COUNT)
  std::string message;      ///< Error: the function's message; Bad: what is wrong with the line
};

/// Parses an answer about the next items; `room` holds K values for each item that may be
/// answered (those sent and not answered yet), and an Ok answer's values go to its front.
Reply parse_reply(std::string_view line, std::span<double> room, std::size_t k);

/// `line` for a message: at most 200 bytes, control characters shown as escapes.
std::string quote_line(std::string_view line);

}  // namespace pmap::detail::worker_protocol
