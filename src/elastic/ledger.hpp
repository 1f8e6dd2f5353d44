// pmap — the ledger of an elastic job: which task holds which block of the item space, kept as
// files in the job folder on a shared file system, with no server (private).
//
//   elastic::Ledger ledger = elastic::Ledger::create(folder, items, block_rows, fingerprint);
//   const elastic::Owner me = elastic::Owner::self();
//   while (auto claim = ledger.claim(me, elastic::Liveness{})) {
//     run rows ledger.rows(claim->block) into ledger.partial_path(claim->block) ...;
//     ledger.finish(*claim, me);   // the block's file moves into place: done, for good
//   }
//
// Every change of state is one operation that is atomic on local file systems, NFS v3+, Lustre
// and GPFS, and no descriptor stays open between calls (a task holds none per block):
//
//   FOLDER/ledger/plan                  items, rows a block, blocks, the items' fingerprint
//   FOLDER/ledger/claims/B.G            generation G of block B's claim, made whole by
//                                       link(2) of a written draft (atomic like O_CREAT|O_EXCL,
//                                       and never half-written): of two tasks making the same
//                                       B.G, one wins. Its text says who owns it, or that it was
//                                       given back. Generation 0 claims a fresh block; G+1 takes
//                                       over G (its owner dead) or claims it again (given back).
//   FOLDER/ledger/tasks/TASK            a task's heartbeat: its mtime, touched every few seconds
//   FOLDER/blocks/block-B.part.h5       the block's rows while it runs (kept when its task dies:
//                                       the next owner resumes it, rows written are kept)
//   FOLDER/blocks/block-B.h5            the finished block, moved into place with link(2) (which,
//                                       unlike rename, never replaces a finished block) + unlink
//
// The owner of a block is the author of its highest generation. A claim is abandoned when its
// owner's heartbeat is older than a bound, when the owner's Slurm job is no longer running
// (asked once per scan, only for owners whose heartbeat is late), or when the owner ran on this
// host and its process is gone.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pmap/partition.hpp"

namespace pmap::elastic {

/// Who holds a claim: a task of an elastic job (one process, or rank 0 of a task's ranks).
struct Owner {
  std::string task;  ///< unique for this attempt: Slurm job id (+ restart), else host-pid
  std::string job;   ///< Slurm job id to ask squeue about; empty outside Slurm
  std::string host;
  long pid = 0;
  double since = 0;  ///< when the claim was made (seconds since the epoch)

  /// This process, from SLURM_JOB_ID/SLURM_ARRAY_* and the host name.
  static Owner self();
  /// The claim file's text, and back (nullopt for an empty or partly written file).
  [[nodiscard]] std::string to_text() const;
  static std::optional<Owner> parse(const std::string& text);
};

/// How a scan decides that a claim's owner is gone.
struct Liveness {
  double heartbeat_bound = 120;  ///< seconds without a heartbeat: dead
  /// Asked for owners whose heartbeat is older than `suspect_after`: false when that Slurm job
  /// is known to be no longer running (default: squeue). Absent: heartbeats only.
  std::function<bool(const std::string& job)> job_running;
  double suspect_after = 30;
};

/// What one block of the ledger is, as a scan found it.
struct BlockState {
  enum class Kind { Free, Claimed, Released, Done };
  Kind kind = Kind::Free;
  int generation = -1;         ///< of the highest claim file (-1: never claimed)
  std::optional<Owner> owner;  ///< the claim's owner (Claimed, Done)
  std::vector<Owner> history;  ///< every generation's owner, oldest first (scan(true))
  std::string released_by;     ///< the task that gave it back (Released)
};

/// A block this task holds.
struct Claim {
  std::uint64_t block = 0;
  int generation = 0;
  bool takeover = false;  ///< taken from a task that died (its partial file may hold rows)
  std::string from;       ///< that task
};

/// Figures of the ledger's own cost, for the report.
struct LedgerStats {
  std::uint64_t claims = 0, attempts = 0, scans = 0, takeovers = 0;
  double seconds = 0;  ///< spent inside claim()
};

class Ledger {
 public:
  /// Creates the ledger of FOLDER (made if missing) for `items` rows in blocks of `block_rows`;
  /// an existing ledger of the same plan is opened instead. Throws UsageError when FOLDER holds
  /// the ledger of other items (or another fingerprint), or cannot be written.
  static Ledger create(const std::string& folder, std::uint64_t items, std::uint64_t block_rows,
                       const std::string& fingerprint);
  /// Opens the ledger of FOLDER; UsageError when there is none.
  static Ledger open(const std::string& folder);

  [[nodiscard]] const std::string& folder() const noexcept { return folder_; }
  [[nodiscard]] std::uint64_t items() const noexcept { return items_; }
  [[nodiscard]] std::uint64_t block_rows() const noexcept { return block_rows_; }
  [[nodiscard]] std::uint64_t blocks() const noexcept { return blocks_; }
  [[nodiscard]] const std::string& fingerprint() const noexcept { return fingerprint_; }
  /// Rows [begin, end) of block b.
  [[nodiscard]] Chunk rows(std::uint64_t b) const noexcept;
  [[nodiscard]] std::string partial_path(std::uint64_t b) const;
  [[nodiscard]] std::string done_path(std::uint64_t b) const;

  /// Claims a block: the next never-claimed one, else one given back, else one whose owner is
  /// dead (`alive`). nullopt when every block is done or held by a live task.
  std::optional<Claim> claim(const Owner& me, const Liveness& alive);
  /// Gives a block back unfinished (its partial file stays for the next owner). False when this
  /// task no longer owns it (taken over meanwhile).
  bool release(const Claim& c, const Owner& me);
  /// True while `me` owns c's block (no later generation exists).
  [[nodiscard]] bool owns(const Claim& c) const;
  /// Moves the block's partial file into place (done for good). Throws RuntimeError when the
  /// block is no longer this task's, or already done by another.
  void finish(const Claim& c, const Owner& me);
  /// Touches this task's heartbeat file (made on the first call).
  void heartbeat(const Owner& me) const;
  /// Seconds since `task`'s last heartbeat (nullopt: none).
  [[nodiscard]] std::optional<double> heartbeat_age(const std::string& task) const;

  /// Every block's state (one listing of each folder; reads the claim files: every generation's
  /// with `history`, else only the highest, as claim() needs).
  [[nodiscard]] std::vector<BlockState> scan(bool history = true) const;
  /// Blocks not done.
  [[nodiscard]] std::uint64_t remaining() const;

  [[nodiscard]] const LedgerStats& stats() const noexcept { return stats_; }

 private:
  Ledger(std::string folder, std::uint64_t items, std::uint64_t block_rows, std::string fp);
  class Draft;
  bool try_create(std::uint64_t b, int generation, const Draft& draft);
  [[nodiscard]] std::string claim_path(std::uint64_t b, int generation) const;
  [[nodiscard]] std::map<std::uint64_t, std::vector<int>> list_claims() const;
  [[nodiscard]] int highest_generation(std::uint64_t b) const;

  std::string folder_;
  std::uint64_t items_ = 0, block_rows_ = 1, blocks_ = 0;
  std::string fingerprint_;
  std::uint64_t cursor_ = 0;  // blocks below it were claimed at generation 0 by someone
  LedgerStats stats_;
};

/// squeue's answer for `job` (killed after `timeout` s): false only when squeue answered and the
/// job is not pending, running, completing or suspended; true when unsure.
bool slurm_job_running(const std::string& job, double timeout = 10,
                       const std::string& squeue = "squeue");

}  // namespace pmap::elastic
