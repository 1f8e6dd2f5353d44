// pmap — a stage of a run (internal): what the engine drives through its phases. The compute
// stage and the URL stage implement it; a new kind of work implements it too.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

#include "pmap/channel.hpp"
#include "pmap/results.hpp"

namespace pmap {

/// How the work ended, agreed on by every rank before the figures are reduced.
struct Ending {
  int interrupted = 0;  ///< the signal that stopped the job on some rank (1: another stop), or 0
  StopCause cause = StopCause::None;  ///< the first cause seen on rank 0
};

/// One stage of a run: identity, plan, work and final attributes; the engine does the rest.
class Stage {
 public:
  virtual ~Stage() = default;
  /// The stage's group in the results file and its progress label ("compute", "urls").
  [[nodiscard]] virtual std::string_view name() const = 0;
  /// Collective: checks the job and reads what it needs; throws the same UsageError everywhere.
  virtual void prepare(MPI_Comm comm) = 0;
  /// Threads per rank (the largest), recorded in a new file once prepare() ran.
  [[nodiscard]] virtual int threads_per_rank() const { return 1; }
  /// Rank 0, before anything is written: may the results file be created (UsageError if not)?
  virtual void preflight() const = 0;
  /// Rank 0: creates the stage's part of the results file, with `root` on a new file.
  virtual void create(const Attrs& root) = 0;
  /// Rank 0, when resuming: what an earlier run left, as bytes every rank adopts.
  [[nodiscard]] virtual std::string plan_resume() = 0;
  /// Every rank: adopts the plan (empty for a fresh run).
  virtual void adopt(const std::string& plan) = 0;
  /// Collective: opens what the work writes into.
  virtual void open(MPI_Comm comm) = 0;
  /// The units of work of this run on the whole job (for the progress line).
  [[nodiscard]] virtual std::uint64_t units() const = 0;
  /// Failures after which the job stops (0: never).
  [[nodiscard]] virtual std::uint64_t failure_limit() const { return 0; }
  /// Every rank: does its share, reporting progress and watching the stop through `channel`.
  virtual void work(Channel& channel) = 0;
  /// Collective: closes what the work wrote into and reduces the figures.
  virtual void reduce(MPI_Comm comm, const Ending& ending) = 0;
  /// Rank 0: the final attributes and tables.
  virtual void finalize() = 0;
  /// Rank 0: the summary and the pmap-report line.
  virtual void print_summary(std::ostream& out) const = 0;
};

}  // namespace pmap
