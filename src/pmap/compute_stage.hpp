// pmap — the compute stage (internal): a kernel over an item space, rows into the sinks.
#pragma once

#include <mpi.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pmap/compute.hpp"
#include "pmap/engine.hpp"
#include "pmap/partition.hpp"
#include "pmap/results.hpp"
#include "pmap/sink.hpp"
#include "pmap/stage.hpp"
#include "pmap/threads.hpp"
#include "pmap/worker.hpp"

namespace pmap {

/// What identifies a compute job in its file: --resume and merge refuse a file of another one.
[[nodiscard]] Attrs compute_identity(const ComputeJob& job, const std::string& items_fnv = "");
/// What a fresh run's file says before its rows (ComputeStage::create writes it; an elastic
/// job's merge writes the same for the whole job).
[[nodiscard]] ComputeMeta make_compute_meta(const ComputeJob& job,
                                            const std::vector<std::string>& columns,
                                            const std::string& threads_source, const Attrs& root);

class ComputeStage final : public Stage {
 public:
  explicit ComputeStage(const ComputeJob& job);
  ~ComputeStage() override;

  /// Adds a sink besides the file and the error table (the C++ API's memory and stream).
  void add_sink(RowSink* sink) { extra_.push_back(sink); }
  /// The report (every rank, after the run).
  [[nodiscard]] const RunReport& report() const noexcept { return report_; }
  /// This rank's failed and timed-out rows (after the run).
  [[nodiscard]] const std::vector<RowError>& errors() const noexcept { return errors_; }

  [[nodiscard]] std::string_view name() const override { return "compute"; }
  void prepare(MPI_Comm comm) override;
  [[nodiscard]] int threads_per_rank() const override { return max_threads_; }
  void preflight() const override;
  void create(const Attrs& root) override;
  [[nodiscard]] std::string plan_resume() override;
  void adopt(const std::string& plan) override;
  void open(MPI_Comm comm) override;
  [[nodiscard]] std::uint64_t units() const override { return rows_.size(); }
  [[nodiscard]] std::uint64_t failure_limit() const override { return max_failures_; }
  void work(Channel& channel) override;
  void reduce(MPI_Comm comm, const Ending& ending) override;
  void finalize() override;
  void print_summary(std::ostream& out) const override;

 private:
  [[nodiscard]] Attrs identity() const;
  void start_runners(MPI_Comm comm);
  void check_same_items(MPI_Comm comm);
  void stop_runners() noexcept;
  void fill_report(MPI_Comm comm, const Ending& ending);
  void gather_for_file(MPI_Comm comm);

  const ComputeJob& job_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  std::chrono::steady_clock::time_point t0_;  // the work's start, after a barrier
  double own_seconds_ = 0;                    // this rank's work, without waiting for others
  std::vector<std::string> columns_;
  std::vector<FieldArg> field_args_;  // kernel arguments the items' fields give
  std::string items_fnv_;             // the space's fingerprint, the same on every rank
  Chunk window_{};                    // the shard's rows
  ThreadChoice threads_;
  std::vector<std::unique_ptr<BatchRunner>> runners_;  // one a thread, for batch kernels
  int workers_ = 1;
  int max_threads_ = 1;
  std::uint64_t max_failures_ = 0;
  RowSet rows_;  // what this run runs
  std::int64_t runs_ = 1;
  std::vector<ErrorRecord> kept_errors_;  // rank 0, resume: errors of rows not rerun
  std::unique_ptr<FileSink> file_;
  ErrorSink error_sink_;
  std::vector<RowSink*> extra_;
  WorkerTotals totals_;
  std::uint64_t remote_claims_ = 0;
  double coordinator_seconds_ = 0;  // rank 0: the coordinator thread's CPU time
  double write_seconds_ = 0;
  std::vector<RowError> errors_;
  RunReport report_;
  // Rank 0, for finalize(): the per-rank table and every rank's errors.
  std::vector<RankRecord> rank_table_;
  std::vector<ErrorRecord> all_errors_;
};

}  // namespace pmap
