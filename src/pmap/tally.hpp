// pmap — named tallies of finished rows (internal): what a rank, a file or a whole job counted.
//
//   StatusTally t;
//   t.count(ItemStatus::Ok, row_checksum(row, values, k));
//   t = t.reduce(comm);  // collective: the job's totals on every rank
#pragma once

#include <mpi.h>

#include <array>
#include <cstdint>

#include "pmap/results.hpp"

namespace pmap {

/// Rows of /compute by status, and the order-independent checksum of the ok ones.
struct StatusTally {
  std::uint64_t ok = 0, failed = 0, timed_out = 0, not_run = 0;
  std::uint64_t checksum = 0;  ///< sum of row_checksum over ok rows (mod 2^64)

  /// Counts one row; `ok_checksum` is its row_checksum when the status is Ok.
  void count(ItemStatus status, std::uint64_t ok_checksum = 0) noexcept {
    switch (status) {
      case ItemStatus::Ok:
        ++ok;
        checksum += ok_checksum;
        break;
      case ItemStatus::Failed:
        ++failed;
        break;
      case ItemStatus::TimedOut:
        ++timed_out;
        break;
      default:
        ++not_run;
    }
  }
  /// Counts a raw status byte as stored in /compute/status (anything unknown is "not run").
  void count_raw(std::int8_t status, std::uint64_t ok_checksum = 0) noexcept {
    count(status >= 0 && status <= 2 ? static_cast<ItemStatus>(status) : ItemStatus::NotRun,
          ok_checksum);
  }
  /// Rows that ran (ok, failed or timed out).
  [[nodiscard]] std::uint64_t ran() const noexcept { return ok + failed + timed_out; }
  /// Rows that ran and did not succeed.
  [[nodiscard]] std::uint64_t unsuccessful() const noexcept { return failed + timed_out; }
  [[nodiscard]] std::uint64_t total() const noexcept { return ran() + not_run; }
  StatusTally& operator+=(const StatusTally& o) noexcept {
    ok += o.ok;
    failed += o.failed;
    timed_out += o.timed_out;
    not_run += o.not_run;
    checksum += o.checksum;
    return *this;
  }
  friend bool operator==(const StatusTally&, const StatusTally&) = default;
  /// Collective: the sum over the ranks of `comm`, on every rank.
  [[nodiscard]] StatusTally reduce(MPI_Comm comm) const;
};

/// Verdicts of /urls rows.
struct UrlTally {
  std::uint64_t exists = 0, does_not_exist = 0, unknown = 0;
  std::uint64_t invalid = 0;      ///< of the unknown: lines that are no URL (no request made)
  std::uint64_t interrupted = 0;  ///< of the unknown: cut short by a stop (checked again on resume)

  /// Counts one row of verdict 0 (exists), 1 (does not exist) or 2 (unknown).
  void count(int verdict, bool is_invalid = false, bool is_interrupted = false) noexcept {
    if (verdict == 0) {
      ++exists;
    } else if (verdict == 1) {
      ++does_not_exist;
    } else {
      ++unknown;
    }
    invalid += is_invalid ? 1 : 0;
    interrupted += is_interrupted ? 1 : 0;
  }
  /// Rows with a verdict (interrupted ones included).
  [[nodiscard]] std::uint64_t total() const noexcept { return exists + does_not_exist + unknown; }
  /// Rows done for good (interrupted ones are checked again by --resume).
  [[nodiscard]] std::uint64_t checked() const noexcept { return total() - interrupted; }
  UrlTally& operator+=(const UrlTally& o) noexcept {
    exists += o.exists;
    does_not_exist += o.does_not_exist;
    unknown += o.unknown;
    invalid += o.invalid;
    interrupted += o.interrupted;
    return *this;
  }
  friend bool operator==(const UrlTally&, const UrlTally&) = default;
  /// Collective: the sum over the ranks of `comm`, on every rank.
  [[nodiscard]] UrlTally reduce(MPI_Comm comm) const;
};

}  // namespace pmap
