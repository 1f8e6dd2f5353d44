// pmap — whether another process holds a file's lock, and who (private).
#pragma once

#include <optional>
#include <string>

namespace pmap::detail {

/// nullopt when no other process holds a lock on `path` (or it cannot be opened); else who does:
/// "pid 1234 (pmap)" from /proc/locks and /proc/PID/cmdline, or "another process" where the
/// system does not say. HDF5 locks a file it writes (and one it reads) with flock(2): a file in
/// use is a pmap run, a merge or an h5py session that still has it open.
std::optional<std::string> file_in_use(const std::string& path);

}  // namespace pmap::detail
