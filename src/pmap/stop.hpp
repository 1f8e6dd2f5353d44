// pmap — the process-wide stop request: set by SIGINT, SIGTERM and SIGUSR1 (the Slurm wall-time
// warning), or by a fatal error; every stage stops claiming work and checkpoints when it is set.
#pragma once

#include <atomic>

namespace pmap {

/// Installs handlers for SIGINT, SIGTERM and SIGUSR1 that request a stop (async-signal-safe).
void install_stop_handlers();
/// Requests a stop; `signal` is remembered (0 for a non-signal reason).
void request_stop(int signal = 0) noexcept;
/// True once a stop was requested.
[[nodiscard]] bool stop_requested() noexcept;
/// The signal that requested the stop, or 0.
[[nodiscard]] int stop_signal() noexcept;
/// The flag itself, for code that polls an atomic (e.g. UrlChecker::check).
[[nodiscard]] const std::atomic<bool>* stop_flag() noexcept;
/// Clears the request (at the start of a run in a long-lived process).
void reset_stop() noexcept;

}  // namespace pmap
