// pmap — command templates (internal): a command line split into argv the way a POSIX shell
// splits words (quotes, backslashes), never run by one, with GNU parallel's placeholders ({} the
// item, {#} its row, {.} {/} {//} {/.}) substituted inside the words afterwards. The exec kernel
// builds one argv per item; the worker kernel one fixed argv per worker.
//
//   const auto argv = pmap::detail::build_argv("./simulate --x {}", false, "3 4", 7);
//   // {"./simulate", "--x", "3 4"}: the item is one word whatever it contains
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pmap::detail {

/// argv for one item. Without a placeholder of the item the item is appended as the last word.
/// With `shell`, the template is a /bin/sh -c script and substituted values are single-quoted.
/// Throws UsageError (subject "args", value "cmd=...") for unbalanced quotes or an empty command.
std::vector<std::string> build_argv(std::string_view cmd, bool shell, std::string_view item,
                                    std::uint64_t row);

/// Checks that `cmd` splits (quotes balanced, not empty); throws what build_argv would throw.
void check_template(std::string_view cmd);

/// argv of a command that takes no item (a worker): split like a template, or /bin/sh -c `cmd`
/// with `shell`. Throws UsageError for a placeholder (`what` says why there is none) or what
/// check_template throws.
std::vector<std::string> fixed_argv(std::string_view cmd, bool shell, std::string_view what);

/// "a, b" -> {"a", "b"}; throws UsageError (subject "args", value "columns=...") for an empty
/// name.
std::vector<std::string> parse_columns(const std::string& text);

}  // namespace pmap::detail
