// worker: a function in any language, in one long-lived process per worker thread.
//
//   pmap run --kernel worker --arg cmd='python3 -m pmap_worker tutorial:compute_x'
//            --arg columns=x,y --arg y=2 --range 1:11     (one command line)
//
// Each thread of each rank gets its own worker process, started (all at once, handshakes
// checked) before anything is written, so a command that does not run or a module that does
// not import stops the run with exit 2 and the worker's stderr in the message. Items travel to
// the worker over its stdin, many in flight, and results come back over its stdout in the line
// protocol of docs/worker-protocol.md. Every --arg the kernel does not declare is passed on to
// the function. The workers run without the MPI launcher's variables, in process groups of their
// own, and die with pmap (detail::spawn). pmap's Python helper is on their PYTHONPATH.
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "builtin.hpp"
#include "detail/child_process.hpp"
#include "detail/command_template.hpp"
#include "detail/worker_protocol.hpp"
#include "detail/worker_runner.hpp"
#include "pmap/error.hpp"

namespace pmap::kernels {
namespace {

/// The directory of pmap's Python helper beside the running program: build/python in a build
/// tree, PREFIX/share/pmap/python when installed; empty when neither holds pmap_worker.py.
std::string helper_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  const auto bin = exe.parent_path();
  for (const auto& dir : {bin / "python", bin.parent_path() / "share" / "pmap" / "python"}) {
    if (std::filesystem::exists(dir / "pmap_worker.py", ec)) return dir.string();
  }
  return {};
}

/// PYTHONPATH for the workers: the user's, then pmap's helper (so `python3 -m pmap_worker`
/// works without setting anything, under any launcher); empty: leave it as it is.
std::vector<std::string> python_path() {
  const std::string dir = helper_dir();
  if (dir.empty()) return {};
  const char* now = std::getenv("PYTHONPATH");
  const std::string current = now != nullptr ? now : "";
  std::string padded(1, ':');
  padded += current;
  padded += ':';
  if (padded.find(':' + dir + ':') != std::string::npos) return {};
  return {"PYTHONPATH=" + (current.empty() ? dir : current + ":" + dir)};
}

/// The kernel's own arguments; every other --arg goes to the function.
std::vector<ArgSpec> worker_arguments() {
  return {{"cmd", ArgType::String, std::string(),
           "the worker command, split like a shell splits words but never run by one, e.g. "
           "'python3 -m pmap_worker mymodule:myfunction'"},
          {"shell", ArgType::Bool, false, "run cmd with /bin/sh -c instead"},
          {"columns", ArgType::String, std::string("value"),
           "comma-separated names of the values each item returns"},
          {"window", ArgType::Int, std::int64_t{4096},
           "items in flight per worker (sent before their results come back)"},
          {"start_timeout", ArgType::Double, 60.0,
           "seconds a worker may take to start and answer the handshake"},
          {"mpi_env", ArgType::Bool, false,
           "pass the launcher's OMPI_*/PMIX_*/PMI_* variables on (default: removed)"}};
}

class Worker final : public BasicKernel {
 public:
  Worker()
      : BasicKernel("worker",
                    "runs a function in a long-lived worker process per thread (any language: "
                    "docs/worker-protocol.md; Python: python3 -m pmap_worker module:function); "
                    "items go to it over stdin, many at a time, values come back over stdout; "
                    "other --arg values are the function's keyword arguments",
                    worker_arguments(), {"value"}) {}

  [[nodiscard]] bool takes_any_argument() const override { return true; }

  [[nodiscard]] std::vector<std::string> output_columns(const BoundArgs& args) const override {
    (void)command(args);  // a missing or malformed command is bad usage, up front
    if (args.get_int("window") < 1) {
      throw UsageError::at_least("args", args.get_int("window"), 1);
    }
    if (args.get_double("start_timeout") <= 0) {
      throw UsageError::not_positive("args", args.get_double("start_timeout"));
    }
    return detail::parse_columns(args.get_string("columns"));
  }

  [[nodiscard]] std::vector<std::unique_ptr<BatchRunner>> start_runners(const BoundArgs& args,
                                                                        const ItemSpace& space,
                                                                        int count) const override {
    auto spec = std::make_shared<detail::WorkerSpec>(
        make_spec(args, space.from_input() || !space.fields().empty()));
    std::vector<std::unique_ptr<detail::WorkerProcess>> procs;
    try {
      procs = detail::start_workers(*spec, count, nullptr);
    } catch (const std::exception& e) {
      throw UsageError("args", "cmd=" + args.get_string("cmd"),
                       std::string("the worker did not start: ") + e.what());
    }
    std::vector<std::unique_ptr<BatchRunner>> runners;
    for (auto& p : procs)
      runners.push_back(std::make_unique<detail::WorkerRunner>(spec, std::move(p)));
    return runners;
  }

  /// One item on a worker of its own (the engine uses start_runners; this serves direct calls).
  void run(const Item& item, const BoundArgs& args, std::span<double> out,
           const KernelContext& ctx) const override {
    (void)ctx;
    const ItemSpace space = item.from_input ? ItemSpace(InputLines{}) : ItemSpace();
    auto runners = start_runners(args, space, 1);  // only from_input() matters for the header
    std::optional<std::string> error;
    runners.front()->run(std::span<const Item>(&item, 1), out, BatchContext{},
                         [&](std::size_t, const ItemResult& r) {
                           error = r.error;
                           return true;
                         });
    if (error) throw ItemError(*error);
  }

 private:
  [[nodiscard]] std::vector<std::string> command(const BoundArgs& args) const {
    const std::string& cmd = args.get_string("cmd");
    if (cmd.find_first_not_of(" \t\n") == std::string::npos) {
      throw UsageError("args", "cmd=",
                       "kernel worker needs a command, e.g. cmd='python3 -m pmap_worker "
                       "mymodule:myfunction'");
    }
    return detail::fixed_argv(cmd, args.get_bool("shell"), "a worker reads its items from stdin");
  }

  [[nodiscard]] detail::WorkerSpec make_spec(const BoundArgs& args, bool input_items) const {
    detail::WorkerSpec spec;
    spec.argv = command(args);
    spec.env = detail::child_environment(args.get_bool("mpi_env"), python_path());
    const auto columns = output_columns(args);
    std::vector<std::pair<std::string, std::string>> passed;
    for (const auto& [name, value] : args.values()) {
      if (is_own(name)) continue;
      passed.emplace_back(name, std::get<std::string>(value));
    }
    spec.header = detail::worker_protocol::header(columns, passed, input_items);
    spec.columns = columns.size();
    spec.window = static_cast<std::size_t>(args.get_int("window"));
    spec.start_timeout = args.get_double("start_timeout");
    return spec;
  }

  [[nodiscard]] bool is_own(const std::string& name) const {
    for (const auto& a : arguments()) {
      if (a.name == name) return true;
    }
    return false;
  }
};

}  // namespace

std::unique_ptr<Kernel> make_worker() { return std::make_unique<Worker>(); }

}  // namespace pmap::kernels
