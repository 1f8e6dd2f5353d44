#include "pmap/engine.hpp"

#include <chrono>
#include <exception>
#include <iostream>

#include "pmap/collective.hpp"
#include "pmap/compute.hpp"
#include "pmap/results_file.hpp"
#include "pmap/stop.hpp"

namespace pmap {

Engine::Engine(MPI_Comm comm, EngineOptions options)
    : comm_(comm), opt_(std::move(options)), rank_(mpi::rank(comm)), size_(mpi::size(comm)) {}

void Engine::run(Stage& stage) {
  stage.prepare(comm_);
  plan(stage);
  stage.open(comm_);
  Channel channel(comm_, {stage.failure_limit()});
  const auto progress = start_progress(stage, channel);
  const Ending ending = work(stage, channel);
  if (progress) progress->finish(channel.done_total());
  finish(stage, ending);
}

/// Rank 0 creates the file, or reads what an earlier run left; every rank adopts the plan.
void Engine::plan(Stage& stage) {
  std::string plan;
  if (opt_.to_file) {
    on_root(comm_, [&] {
      if (opt_.resume) {
        plan = stage.plan_resume();
      } else {
        stage.preflight();
        stage.create(root_attributes(opt_.command, size_, stage.threads_per_rank()));
      }
    });
    plan = mpi::bcast_string(comm_, plan);
  }
  stage.adopt(plan);
}

std::unique_ptr<Progress> Engine::start_progress(Stage& stage, Channel& channel) const {
  if (rank_ != 0 || opt_.progress == ProgressMode::None) return nullptr;
  auto progress =
      std::make_unique<Progress>(opt_.progress, std::string(stage.name()), stage.units());
  const auto interval = progress->mode() == ProgressMode::Bar ? std::chrono::milliseconds(100)
                                                              : std::chrono::milliseconds(500);
  channel.on_tick([p = progress.get()](std::uint64_t done) { p->update(done); }, interval);
  return progress;
}

/// Runs the stage's work; a failure on any rank stops every rank and is thrown on all of them.
Ending Engine::work(Stage& stage, Channel& channel) {
  std::exception_ptr failure;
  try {
    stage.work(channel);
  } catch (...) {
    failure = std::current_exception();
    channel.request_stop(StopCause::Error);
  }
  if (stop_requested()) channel.request_stop(StopCause::Signal);
  try {
    channel.finish();  // waits (sleeping) for the slowest rank
  } catch (...) {
    if (!failure) failure = std::current_exception();
  }
  agree_on_failure(comm_, failure);
  Ending ending;
  ending.interrupted = all_max(comm_, stop_requested() ? std::max(stop_signal(), 1) : 0);
  ending.cause = channel.cause();
  return ending;
}

/// Closes, reduces, finalises on rank 0 and prints the report.
void Engine::finish(Stage& stage, const Ending& ending) {
  stage.reduce(comm_, ending);
  if (opt_.to_file) on_root(comm_, [&] { stage.finalize(); });
  if (rank_ == 0 && opt_.print_summary) {
    stage.print_summary(std::cout);
    std::cout.flush();
  }
}

}  // namespace pmap
