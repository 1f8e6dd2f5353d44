// Running the pmap binary from the CLI tests: directly (a singleton MPI run) or under mpiexec,
// with what every launch needs on a 2-core CI machine running as root. The including test
// program defines PMAP_BIN and PMAP_MPIEXEC (tests/CMakeLists.txt).
#pragma once

#include <string>
#include <vector>

#include "support/process.hpp"

namespace pmap::test {

using Args = std::vector<std::string>;

/// What every launch needs on a 2-core CI machine running as root (ctest sets these too).
inline const std::vector<std::string> kMpiEnv = {
    "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
    "OMPI_MCA_rmaps_base_oversubscribe=1", "OMPI_MCA_btl_vader_single_copy_mechanism=none"};

/// The command, its exit code and its output, for a failure message.
inline std::string describe(const Args& argv, const ProcessResult& r) {
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  return "command: " + cmd + "\nexit code: " + std::to_string(r.exit_code) + "\n--- stdout ---\n" +
         r.out + "--- stderr ---\n" + r.err;
}

/// Runs `pmap args...` in `cwd` with `env` added; `what` gets describe() of the run.
inline ProcessResult pmap_cmd(const Args& args, const std::string& cwd, std::string* what = nullptr,
                              const std::vector<std::string>& env = {}) {
  Args argv{PMAP_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  auto all_env = kMpiEnv;
  all_env.insert(all_env.end(), env.begin(), env.end());
  auto r = run_process(argv, cwd, all_env);
  if (what != nullptr) *what = describe(argv, r);
  return r;
}

/// Runs `mpiexec -n N --bind-to none pmap args...` in `cwd`.
inline ProcessResult mpi_cmd(int ranks, const Args& args, const std::string& cwd,
                             std::string* what = nullptr) {
  Args argv{PMAP_MPIEXEC, "-n", std::to_string(ranks), "--bind-to", "none", PMAP_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_process(argv, cwd, kMpiEnv);
  if (what != nullptr) *what = describe(argv, r);
  return r;
}

}  // namespace pmap::test
