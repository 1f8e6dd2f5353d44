// pmap — how a run shows its progress on rank 0.
//
//   pmap::MapOptions opt;
//   opt.progress = pmap::ProgressMode::Auto;  // a bar on a terminal, nothing otherwise
#pragma once

#include <string_view>

namespace pmap {

/// bar: redrawn line (terminals); log: a line every 10% or 30 s; none; auto: bar if stderr is a
/// tty.
enum class ProgressMode { Auto, Bar, Log, None };

/// Parses "auto|bar|log|none"; throws UsageError otherwise.
ProgressMode parse_progress(std::string_view text);

}  // namespace pmap
