// pmap — whether another process holds a file's lock (see file_in_use.hpp).
#include "file_in_use.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "child_process.hpp"

namespace pmap::detail {

namespace {

/// The pid of a process /proc/locks shows holding a lock on the file (device, inode), or 0.
long lock_holder(const struct stat& st) {
  std::ifstream locks("/proc/locks");
  char wanted[64];
  std::snprintf(wanted, sizeof wanted, "%02x:%02x:%lu", major(st.st_dev), minor(st.st_dev),
                static_cast<unsigned long>(st.st_ino));
  for (std::string line; std::getline(locks, line);) {
    // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
    std::istringstream fields(line);
    std::string id, kind, mode, access, file;
    long pid = 0;
    if (fields >> id >> kind >> mode >> access >> pid >> file && file == wanted && pid > 0 &&
        pid != static_cast<long>(::getpid())) {
      return pid;
    }
  }
  return 0;
}

/// "pid N (program args...)", the command line cut to 60 bytes.
std::string describe(long pid) {
  std::string command;
  const std::string path = "/proc/" + std::to_string(pid) + "/cmdline";
  if (const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)); fd.get() >= 0) {
    char buffer[256];
    const ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
    if (got > 0) command.assign(buffer, static_cast<std::size_t>(got));
  }
  for (char& c : command) c = c == '\0' ? ' ' : c;
  while (!command.empty() && command.back() == ' ') command.pop_back();
  if (command.size() > 60) command = command.substr(0, 57) + "...";
  return "pid " + std::to_string(pid) + (command.empty() ? "" : " (" + command + ")");
}

}  // namespace

std::optional<std::string> file_in_use(const std::string& path) {
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) return std::nullopt;
  // A lock taken here is released when fd closes; one refused means another holder.
  const bool held = ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  if (!held) return std::nullopt;
  struct stat st {};
  const bool stated = ::fstat(fd.get(), &st) == 0;
  const long pid = stated ? lock_holder(st) : 0;
  return pid > 0 ? describe(pid) : std::string("another process");
}

}  // namespace pmap::detail
