#include "elastic/ledger.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "detail/child_process.hpp"  // detail::Fd
#include "pmap/error.hpp"

namespace pmap::elastic {
namespace {

namespace fs = std::filesystem;

double now_epoch() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

/// A whole small file ("" when missing); one open, read, close.
std::string read_small(const std::string& path) {
  const detail::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return {};
  std::string out;
  char buf[1024];
  while (true) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > 65536) break;
  }
  return out;
}

/// Writes all of `text` to `fd`; false on error.
bool write_all(int fd, const std::string& text) {
  std::size_t at = 0;
  while (at < text.size()) {
    const ssize_t n = ::write(fd, text.data() + at, text.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    at += static_cast<std::size_t>(n);
  }
  return true;
}

void make_dir(const std::string& path, const std::string& what) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec || !fs::is_directory(path)) {
    throw UsageError("elastic: cannot create the " + what + " " + path + ": " +
                     (ec ? ec.message() : std::string("not a directory")) +
                     "; give a job folder on a shared file system you can write");
  }
}

/// "key=value" lines into a map.
std::map<std::string, std::string> parse_keys(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

constexpr const char* kReleased = "released";

}  // namespace

// ---- Owner
// ---------------------------------------------------------------------------------------

Owner Owner::self() {
  Owner o;
  o.host = host_name();
  o.pid = static_cast<long>(getpid());
  const std::string id = env_or("SLURM_JOB_ID", "");
  if (!id.empty()) {
    const std::string array = env_or("SLURM_ARRAY_JOB_ID", "");
    const std::string index = env_or("SLURM_ARRAY_TASK_ID", "");
    // squeue -j of an array task's own id names the whole array when the task is the array's
    // first (its id is the array's): ask for ARRAY_INDEX, which is this task alone.
    o.job = array.empty() || index.empty() ? id : array + "_" + index;
    o.task = "job" + o.job + "-" + id + "-r" + env_or("SLURM_RESTART_COUNT", "0");
  } else {
    o.task = o.host + "-" + std::to_string(o.pid);
  }
  o.task = env_or("PMAP_ELASTIC_TASK", o.task);
  o.since = now_epoch();
  return o;
}

std::string Owner::to_text() const {
  std::ostringstream os;
  os.precision(15);
  os << "task=" << task << "\njob=" << job << "\nhost=" << host << "\npid=" << pid
     << "\nsince=" << since << "\nend=1\n";
  return os.str();
}

std::optional<Owner> Owner::parse(const std::string& text) {
  const auto k = parse_keys(text);
  if (k.count("end") == 0 || k.count("task") == 0) return std::nullopt;  // being written
  Owner o;
  o.task = k.at("task");
  o.job = k.count("job") ? k.at("job") : "";
  o.host = k.count("host") ? k.at("host") : "";
  o.pid = k.count("pid") ? std::atol(k.at("pid").c_str()) : 0;
  o.since = k.count("since") ? std::atof(k.at("since").c_str()) : 0;
  return o;
}

// ---- Ledger
// --------------------------------------------------------------------------------------

Ledger::Ledger(std::string folder, std::uint64_t items, std::uint64_t block_rows, std::string fp)
    : folder_(std::move(folder)),
      items_(items),
      block_rows_(std::max<std::uint64_t>(1, block_rows)),
      blocks_((items + block_rows_ - 1) / block_rows_),
      fingerprint_(std::move(fp)) {}

Ledger Ledger::create(const std::string& folder, std::uint64_t items, std::uint64_t block_rows,
                      const std::string& fingerprint) {
  if (block_rows == 0) throw UsageError("elastic: a block must hold at least one row");
  const std::string dir = folder + "/ledger";
  make_dir(dir + "/claims", "ledger folder");
  make_dir(dir + "/tasks", "ledger folder");
  make_dir(folder + "/blocks", "blocks folder");
  const Ledger wanted(folder, items, block_rows, fingerprint);
  std::ostringstream plan;
  plan << "items=" << items << "\nblock_rows=" << wanted.block_rows_
       << "\nblocks=" << wanted.blocks_ << "\nfingerprint=" << fingerprint << "\nend=1\n";
  // Written under a private name, then linked into place: the plan appears whole or not at all,
  // and the first writer's plan wins (link refuses to replace it).
  const std::string tmp = dir + "/.plan-" + host_name() + "-" + std::to_string(getpid());
  {
    const detail::Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0 || !write_all(fd.get(), plan.str()) || ::fsync(fd.get()) != 0) {
      const std::string why = std::strerror(errno);
      ::unlink(tmp.c_str());
      throw UsageError("elastic: cannot write " + tmp + ": " + why);
    }
  }
  const int rc = ::link(tmp.c_str(), (dir + "/plan").c_str());
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  if (rc != 0 && link_errno != EEXIST) {
    throw UsageError("elastic: cannot write " + dir + "/plan: " + std::strerror(link_errno));
  }
  Ledger existing = open(folder);
  if (existing.items_ != items || existing.fingerprint_ != fingerprint) {
    throw UsageError("elastic: " + folder + " holds the ledger of another job (" +
                     std::to_string(existing.items_) + " items, fingerprint " +
                     existing.fingerprint_ + "; this job: " + std::to_string(items) +
                     " items, fingerprint " + fingerprint +
                     "); give each elastic job its own folder");
  }
  return existing;
}

Ledger Ledger::open(const std::string& folder) {
  const std::string path = folder + "/ledger/plan";
  const auto k = parse_keys(read_small(path));
  if (k.count("end") == 0 || k.count("items") == 0 || k.count("block_rows") == 0) {
    throw UsageError("elastic: " + folder + ": no elastic job here (" + path +
                     " is missing or incomplete); give the folder `pmap submit` printed");
  }
  return Ledger(folder, std::strtoull(k.at("items").c_str(), nullptr, 10),
                std::strtoull(k.at("block_rows").c_str(), nullptr, 10),
                k.count("fingerprint") ? k.at("fingerprint") : "");
}

Chunk Ledger::rows(std::uint64_t b) const noexcept {
  const std::uint64_t begin = std::min(items_, b * block_rows_);
  return {begin, std::min(items_, begin + block_rows_)};
}

std::string Ledger::partial_path(std::uint64_t b) const {
  return folder_ + "/blocks/block-" + std::to_string(b) + ".part.h5";
}

std::string Ledger::done_path(std::uint64_t b) const {
  return folder_ + "/blocks/block-" + std::to_string(b) + ".h5";
}

std::string Ledger::claim_path(std::uint64_t b, int generation) const {
  return folder_ + "/ledger/claims/" + std::to_string(b) + "." + std::to_string(generation);
}

/// A claim's text, written whole under a private name in the claims folder: claims are made by
/// linking it to B.G, so a claim file never exists half-written (link(2), like O_CREAT|O_EXCL, is
/// atomic on NFS and fails with EEXIST when B.G exists). Removed at scope exit.
class Ledger::Draft {
 public:
  Draft(const std::string& dir, const std::string& text) {
    static std::atomic<unsigned> counter{0};
    path_ = dir + "/.draft-" + host_name() + "-" + std::to_string(getpid()) + "-" +
            std::to_string(counter++);
    const detail::Fd fd(::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0 || !write_all(fd.get(), text)) {
      const std::string why = std::strerror(errno);
      ::unlink(path_.c_str());
      throw RuntimeError("elastic claim", path_, why);
    }
  }
  ~Draft() { ::unlink(path_.c_str()); }
  Draft(const Draft&) = delete;
  Draft& operator=(const Draft&) = delete;
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

bool Ledger::try_create(std::uint64_t b, int generation, const Draft& draft) {
  ++stats_.attempts;
  const std::string path = claim_path(b, generation);
  if (::link(draft.path().c_str(), path.c_str()) == 0) return true;
  const int err = errno;
  struct stat a {
  }, c{};
  // NFS may answer a retransmitted link that succeeded with EEXIST: the same inode is ours.
  if (err == EEXIST) {
    return ::stat(draft.path().c_str(), &a) == 0 && ::stat(path.c_str(), &c) == 0 &&
           a.st_ino == c.st_ino && a.st_dev == c.st_dev;
  }
  throw RuntimeError("elastic claim", path, std::strerror(err));
}

std::map<std::uint64_t, std::vector<int>> Ledger::list_claims() const {
  std::map<std::uint64_t, std::vector<int>> out;
  const std::string dir = folder_ + "/ledger/claims";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) throw RuntimeError("elastic ledger", dir, std::strerror(errno));
  while (const dirent* e = ::readdir(d)) {
    const char* name = e->d_name;
    char* end = nullptr;
    const auto b = std::strtoull(name, &end, 10);
    if (end == name || *end != '.') continue;
    const char* g = end + 1;
    char* gend = nullptr;
    const long gen = std::strtol(g, &gend, 10);
    if (gend == g || *gend != '\0') continue;
    out[b].push_back(static_cast<int>(gen));
  }
  ::closedir(d);
  for (auto& [b, gens] : out) std::sort(gens.begin(), gens.end());
  return out;
}

int Ledger::highest_generation(std::uint64_t b) const {
  int g = -1;
  struct stat st {};
  while (::stat(claim_path(b, g + 1).c_str(), &st) == 0) ++g;
  return g;
}

std::optional<Claim> Ledger::claim(const Owner& me, const Liveness& alive) {
  const auto t0 = std::chrono::steady_clock::now();
  struct Timer {
    LedgerStats& s;
    std::chrono::steady_clock::time_point t0;
    ~Timer() {
      s.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  } timer{stats_, t0};
  Owner mine = me;
  mine.since = now_epoch();
  const Draft text(folder_ + "/ledger/claims", mine.to_text());
  // 1. Fresh blocks, in order: one O_EXCL create each, no listing.
  struct stat st {};
  while (cursor_ < blocks_) {
    const std::uint64_t b = cursor_++;
    if (::stat(done_path(b).c_str(), &st) == 0) continue;
    if (try_create(b, 0, text)) {
      ++stats_.claims;
      return Claim{b, 0, false, {}};
    }
  }
  // 2. Blocks given back, then blocks whose owner is gone: the next generation, O_EXCL.
  ++stats_.scans;
  const auto states = scan(false);
  std::map<std::string, bool> job_cache;
  const std::string here = host_name();
  for (std::uint64_t b = 0; b < states.size(); ++b) {
    const BlockState& s = states[b];
    if (s.kind == BlockState::Kind::Free) {
      if (try_create(b, 0, text)) {
        ++stats_.claims;
        return Claim{b, 0, false, {}};
      }
      continue;
    }
    // The scan is a snapshot: an owner may have finished its block and exited since (which looks
    // like death). Having won the next generation, the block is ours unless it is done now.
    const auto done_now = [&] { return ::stat(done_path(b).c_str(), &st) == 0; };
    if (s.kind == BlockState::Kind::Released) {
      if (try_create(b, s.generation + 1, text) && !done_now()) {
        ++stats_.claims;
        const std::string from = s.released_by;
        return Claim{b, s.generation + 1, false, from};
      }
      continue;
    }
    if (s.kind != BlockState::Kind::Claimed) continue;
    bool dead = false;
    std::string from;
    if (!s.owner) {
      // Created but never written: its author died between the two (or is writing it now).
      struct stat cs {};
      dead = ::stat(claim_path(b, s.generation).c_str(), &cs) == 0 &&
             now_epoch() - static_cast<double>(cs.st_mtime) > alive.heartbeat_bound;
    } else {
      const Owner& o = *s.owner;
      from = o.task;
      if (o.task == me.task) continue;
      const auto age = heartbeat_age(o.task);
      const double idle = age ? *age : now_epoch() - o.since;
      if (idle > alive.heartbeat_bound) {
        dead = true;
      } else if (o.host == here && o.pid > 0 && ::kill(static_cast<pid_t>(o.pid), 0) != 0 &&
                 errno == ESRCH) {
        dead = true;  // same host: the process is gone
      } else if (!o.job.empty() && alive.job_running && idle > alive.suspect_after) {
        auto it = job_cache.find(o.job);
        if (it == job_cache.end()) it = job_cache.emplace(o.job, alive.job_running(o.job)).first;
        dead = !it->second;
      }
    }
    if (dead && try_create(b, s.generation + 1, text) && !done_now()) {
      ++stats_.claims;
      ++stats_.takeovers;
      return Claim{b, s.generation + 1, true, from};
    }
  }
  return std::nullopt;
}

bool Ledger::owns(const Claim& c) const {
  struct stat st {};
  return ::stat(claim_path(c.block, c.generation + 1).c_str(), &st) != 0;
}

bool Ledger::release(const Claim& c, const Owner& me) {
  Owner o = me;
  o.since = now_epoch();
  const Draft text(folder_ + "/ledger/claims", std::string(kReleased) + "=1\n" + o.to_text());
  return try_create(c.block, c.generation + 1, text);
}

void Ledger::finish(const Claim& c, const Owner& me) {
  const std::string from = partial_path(c.block);
  const std::string to = done_path(c.block);
  if (!owns(c)) {
    throw RuntimeError("elastic finish", to,
                       "block " + std::to_string(c.block) + " was taken over from task " + me.task +
                           " (its heartbeat was late); its rows are kept in " + from);
  }
  if (::link(from.c_str(), to.c_str()) != 0) {
    const int err = errno;
    struct stat a {
    }, b{};
    // NFS may answer a retransmitted link that succeeded with EEXIST: the same file is fine.
    const bool same = err == EEXIST && ::stat(from.c_str(), &a) == 0 &&
                      ::stat(to.c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
    if (!same) {
      throw RuntimeError(
          "elastic finish", to,
          err == EEXIST ? "block " + std::to_string(c.block) + " is already done by another task"
                        : std::string(std::strerror(err)));
    }
  }
  ::unlink(from.c_str());
}

void Ledger::heartbeat(const Owner& me) const {
  const std::string path = folder_ + "/ledger/tasks/" + me.task;
  if (::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) == 0) return;
  const detail::Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() >= 0) {
    (void)write_all(fd.get(), me.to_text());
  }
}

std::optional<double> Ledger::heartbeat_age(const std::string& task) const {
  struct stat st {};
  if (::stat((folder_ + "/ledger/tasks/" + task).c_str(), &st) != 0) return std::nullopt;
  const double mtime =
      static_cast<double>(st.st_mtim.tv_sec) + static_cast<double>(st.st_mtim.tv_nsec) * 1e-9;
  return std::max(0.0, now_epoch() - mtime);
}

std::vector<BlockState> Ledger::scan(bool history) const {
  std::vector<BlockState> out(blocks_);
  const auto claims = list_claims();
  std::vector<bool> done(blocks_, false);
  const std::string dir = folder_ + "/blocks";
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.rfind("block-", 0) != 0 || name.find(".part") != std::string::npos) continue;
      if (name.size() < 9 || name.substr(name.size() - 3) != ".h5") continue;
      const auto b = std::strtoull(name.c_str() + 6, nullptr, 10);
      if (b < blocks_) done[b] = true;
    }
    ::closedir(d);
  }
  for (std::uint64_t b = 0; b < blocks_; ++b) {
    BlockState& s = out[b];
    const auto it = claims.find(b);
    if (it != claims.end()) {
      s.generation = it->second.back();
      for (const int g : it->second) {
        if (!history && g != s.generation) continue;
        const std::string text = read_small(claim_path(b, g));
        auto o = Owner::parse(text);
        const bool released = text.rfind(kReleased, 0) == 0;
        if (g == s.generation) {
          if (released && o) s.released_by = o->task;
          s.owner = o;
          s.kind = released ? BlockState::Kind::Released : BlockState::Kind::Claimed;
        }
        if (o && !released) s.history.push_back(*o);
      }
      if (s.kind == BlockState::Kind::Released) s.owner.reset();
    }
    if (done[b]) s.kind = BlockState::Kind::Done;
  }
  return out;
}

std::uint64_t Ledger::remaining() const {
  std::uint64_t n = 0;
  for (const auto& s : scan()) n += s.kind == BlockState::Kind::Done ? 0 : 1;
  return n;
}

bool slurm_job_running(const std::string& job, double timeout, const std::string& squeue) {
  if (job.empty() || job.find_first_not_of("0123456789_") != std::string::npos) return true;
  std::string quoted = "'";
  for (const char c : squeue) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  const std::string cmd = "timeout " + std::to_string(static_cast<int>(std::max(1.0, timeout))) +
                          " " + quoted + " -h -j " + job + " -o %T 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return true;
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int rc = ::pclose(p);
  if (rc != 0) {
    // squeue says "Invalid job id specified" (exit 1) for a job it has forgotten: gone. A
    // timeout (124) or a missing squeue: unsure, so alive.
    return !(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
  }
  for (const char* state : {"PENDING", "RUNNING", "COMPLETING", "SUSPENDED", "CONFIGURING",
                            "REQUEUED", "RESIZING", "SIGNALING", "STAGE_OUT"}) {
    if (out.find(state) != std::string::npos) return true;
  }
  return false;
}

}  // namespace pmap::elastic
