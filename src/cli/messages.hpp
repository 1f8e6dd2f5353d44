// pmap CLI — library errors in the command line's words.
//
// The library's messages name the settings of a job by their fields ("shard 3/2: ...", "overwrite
// it with `force`"); the CLI says which flag sets each field in each subcommand ("--shard 3/2:
// ...", "--force"), in one table, and turns errors into exit codes in one place.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pmap/error.hpp"

namespace pmap::cli {

/// The flag that sets a job field in `subcommand` ("run": "item_timeout" -> "--item-timeout",
/// "urls.threads" -> "--url-threads"; "urls": "urls.threads" -> "--threads"); empty when the
/// subcommand has none.
[[nodiscard]] std::string_view flag_for(std::string_view subcommand, std::string_view field);

/// Every flag the table names for `subcommand` (each must be an option of that subcommand).
[[nodiscard]] std::vector<std::string_view> flags_of(std::string_view subcommand);

/// The message of `e` as the CLI prints it after "pmap: error: ": its subject becomes the flag
/// ("--shard 3/2: ...") and the fields it names between backquotes become flags ("--force").
/// Subjects and fields the subcommand has no flag for are kept as the library says them.
[[nodiscard]] std::string message(const Error& e, std::string_view subcommand);

/// The exit code of an exception that ends the command: an Error's own code, else RunFailed (an
/// unexpected failure of the run, never "some items failed").
[[nodiscard]] int exit_code(const std::exception& e) noexcept;

}  // namespace pmap::cli
