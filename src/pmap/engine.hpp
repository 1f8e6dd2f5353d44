// pmap — the run engine (internal): drives any Stage through the same named phases on every
// rank, the way the CLI and the C++ API run their work.
//
//   Engine engine(comm, {.output = "pmap.h5", .progress = ProgressMode::Auto});
//   engine.run(stage);  // collective
#pragma once

#include <mpi.h>

#include <memory>
#include <string>

#include "pmap/channel.hpp"
#include "pmap/progress.hpp"
#include "pmap/stage.hpp"

namespace pmap {

/// What the engine needs besides the stage.
struct EngineOptions {
  bool to_file = true;  ///< the stage writes a results file
  bool resume = false;  ///< continue the stage's file instead of creating it
  bool print_summary = true;
  ProgressMode progress = ProgressMode::Auto;
  std::string command;  ///< recorded in a new file
};

/// The engine's options of a job (ComputeJob, UrlJob): file, resume, summary, progress, command.
template <class Job>
EngineOptions engine_options(const Job& job) {
  EngineOptions options;
  options.to_file = !job.output.empty();
  options.resume = job.resume;
  options.print_summary = job.print_summary;
  options.progress = job.progress;
  options.command = job.command;
  return options;
}

class Engine {
 public:
  Engine(MPI_Comm comm, EngineOptions options);
  /// Runs `stage` through every phase (collective). Errors are thrown on every rank alike.
  void run(Stage& stage);

 private:
  void plan(Stage& stage);
  std::unique_ptr<Progress> start_progress(Stage& stage, Channel& channel) const;
  Ending work(Stage& stage, Channel& channel);
  void finish(Stage& stage, const Ending& ending);

  MPI_Comm comm_;
  EngineOptions opt_;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace pmap
