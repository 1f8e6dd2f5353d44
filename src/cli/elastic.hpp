// pmap CLI — `pmap submit` and `pmap status`: an elastic job on Slurm (src/elastic/). They are
// parsed before CLI11's subcommands: sbatch's options pass through, the run comes after `--`.
#pragma once

namespace pmap::cli {

/// `pmap submit [OPTIONS] [sbatch options] -- run|urls ARGS`, `--resume FOLDER`, `--finish
/// FOLDER`; returns the exit code; throws pmap::Error (UsageError: nothing submitted).
int submit_command(int argc, char** argv);
/// `pmap status FOLDER`.
int status_command(int argc, char** argv);

}  // namespace pmap::cli
