#include "pmap/report.hpp"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace pmap {
namespace {

std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

std::uint64_t row_checksum(std::uint64_t row, const double* values, std::size_t columns) {
  std::uint64_t h = mix64(row + 0x9e3779b97f4a7c15ULL);
  for (std::size_t k = 0; k < columns; ++k) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &values[k], sizeof bits);
    h = mix64(h ^ (bits + k));
  }
  return h;
}

/// A value as one token of the report line: whitespace and '=' become '_'.
static std::string token(std::string s) {
  for (auto& c : s) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '=') c = '_';
  }
  return s.empty() ? std::string("-") : s;
}

std::string RunReport::line() const {
  std::ostringstream os;
  os << "pmap-report stage=" << token(stage) << " kernel=" << token(kernel)
     << " schedule=" << token(schedule)
     << " chunk=" << (chunk == 0 ? std::string("auto") : std::to_string(chunk))
     << " ranks=" << ranks << " threads=" << threads << " workers=" << workers << " items=" << items
     << " ok=" << ok << " failed=" << failed << " timed_out=" << timed_out << " not_run=" << not_run
     << " wall_seconds=" << fixed(wall_seconds, 6)
     << " items_per_second=" << fixed(items_per_second(), 3)
     << " busy_seconds=" << fixed(busy_seconds, 6)
     << " parallel_efficiency=" << fixed(parallel_efficiency, 4)
     << " load_imbalance=" << fixed(load_imbalance, 4)
     << " write_seconds=" << fixed(write_seconds, 6) << " remote_claims=" << remote_claims
     << " coordinator_seconds=" << fixed(coordinator_seconds, 6)
     << " max_rss_mib=" << fixed(max_rss_mib, 1) << " interrupted=" << interrupted
     << " stop_reason=" << (stop_reason.empty() ? std::string("none") : stop_reason)
     << " ran=" << ran << " resumed=" << (resumed ? 1 : 0) << " checksum=" << hex(checksum);
  return os.str();
}

std::string RunReport::summary() const {
  std::ostringstream os;
  os << stage << ": " << items << " items (" << ok << " ok, " << failed << " failed, " << timed_out
     << " timed out";
  if (not_run > 0) os << ", " << not_run << " not run";
  if (!stop_reason.empty()) os << "; stopped early: " << stop_reason;
  if (resumed) os << "; " << ran << " run now";
  os << ") in " << fixed(wall_seconds, 3) << " s, " << fixed(items_per_second(), 1)
     << " items/s on " << ranks << (ranks == 1 ? " rank" : " ranks") << " x " << threads
     << (threads == 1 ? " thread" : " threads") << "\n";
  os << "  parallel efficiency " << fixed(100.0 * parallel_efficiency, 1) << "%, load imbalance "
     << fixed(load_imbalance, 2) << ", write " << fixed(write_seconds, 3) << " s, schedule "
     << schedule << " (chunk " << (chunk == 0 ? std::string("auto") : std::to_string(chunk))
     << ")\n";
  return os.str();
}

Attrs report_attrs(const RunReport& r) {
  return {{"wall_seconds", r.wall_seconds},
          {"items_per_second", r.items_per_second()},
          {"busy_seconds", r.busy_seconds},
          {"parallel_efficiency", r.parallel_efficiency},
          {"load_imbalance", r.load_imbalance},
          {"write_seconds", r.write_seconds},
          {"ok", static_cast<std::int64_t>(r.ok)},
          {"failed", static_cast<std::int64_t>(r.failed)},
          {"timed_out", static_cast<std::int64_t>(r.timed_out)},
          {"not_run", static_cast<std::int64_t>(r.not_run)},
          {"workers", static_cast<std::int64_t>(r.workers)},
          {"remote_claims", static_cast<std::int64_t>(r.remote_claims)},
          {"coordinator_seconds", r.coordinator_seconds},
          {"max_rss_mib", r.max_rss_mib},
          {"interrupted", static_cast<std::int64_t>(r.interrupted)},
          {"stop_reason", r.stop_reason.empty() ? std::string("none") : r.stop_reason},
          {"checksum", hex(r.checksum)},
          {"report", r.line()}};
}

}  // namespace pmap
