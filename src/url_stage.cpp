#include "pmap/url_stage.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "detail/fnv.hpp"
#include "detail/repeat_filter.hpp"
#include "detail/text.hpp"
#include "detail/url_file.hpp"
#include "pmap/compute.hpp"
#include "pmap/error.hpp"
#include "pmap/h5.hpp"
#include "pmap/mpi.hpp"
#include "pmap/results.hpp"
#include "pmap/schedule.hpp"
#include "pmap/stop.hpp"

namespace pmap {
namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::size_t kFlushRows = 4096;  // results buffered per rank before a write
constexpr double kFlushSeconds = 0.5;     // ... or this often

std::string trim(const std::string& s) {
  const auto* ws = " \t\r\n\f\v";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

/// Reads the URL lines of a file one at a time: blank lines and # comments skipped, rows
/// numbered from 0 in input order.
class UrlLines {
 public:
  explicit UrlLines(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) {
      throw UsageError("--input " + path + ": cannot open (" + std::strerror(errno) +
                       "); give a readable text file with one URL a line");
    }
  }
  /// The next kept line and its row; false at the end of the file.
  bool next(std::uint64_t& row, std::string& url) {
    while (std::getline(in_, line_)) {
      if (std::exchange(first_, false)) detail::strip_utf8_bom(line_);
      url = trim(line_);
      if (url.empty() || url.front() == '#') continue;
      row = row_++;
      return true;
    }
    if (in_.bad()) throw UsageError("--input " + path_ + ": read error");
    return false;
  }

 private:
  std::string path_;
  std::ifstream in_;
  std::string line_;
  std::uint64_t row_ = 0;
  bool first_ = true;
};

/// Calls fn(row, url) for each URL line of a file.
template <typename Fn>
void for_each_url(const std::string& path, Fn&& fn) {
  UrlLines lines(path);
  std::uint64_t row = 0;
  std::string url;
  while (lines.next(row, url)) fn(row, url);
}

/// Writes one rank's rows of /urls: buffered as they finish (scattered by host, in completion
/// order), written in sorted runs at each flush.
class UrlRowWriter {
 public:
  UrlRowWriter(const std::string& path, MPI_Comm comm) {
    // One rank writes through HDF5's POSIX driver: MPI-IO buys nothing then, and opening it
    // loads Open MPI's file-system components (~8 ms, a fifth of a short run's start-up).
    h5::Handle fapl(H5Pcreate(H5P_FILE_ACCESS), "fapl");
    if (mpi::size(comm) > 1) {
      h5::check(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL), "set MPI-IO driver");
    }
    file_ = h5::Handle(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get()), "open " + path);
    dsets_.emplace(file_.get());
    for (auto* c : {&pending_, &sorted_}) {
      c->url_len = dsets_->url_len();
      c->final_len = dsets_->final_len();
      // Allocated once, in the thread that creates the writer: flushes run in whichever worker
      // thread finishes a URL, and fresh megabyte buffers there settled in glibc's per-thread
      // arenas (measured: +375 bytes of peak memory a URL at 100,000 URLs).
      c->reserve(kFlushRows);
    }
  }

  void add(std::uint64_t row, const UrlResult& r) { pending_.add(row, r); }
  [[nodiscard]] std::size_t pending() const { return pending_.size(); }

  /// Rows arrive in completion order; sorted, most of them form runs of one hyperslab each.
  void flush() {
    const std::size_t n = pending_.size();
    if (n == 0) return;
    order_.resize(n);
    for (std::size_t i = 0; i < n; ++i) order_[i] = i;
    std::sort(order_.begin(), order_.end(),
              [&](std::size_t a, std::size_t b) { return pending_.rows[a] < pending_.rows[b]; });
    sorted_.clear();
    for (const std::size_t i : order_) sorted_.add_from(pending_, i);
    pending_.clear();
    dsets_->write_sorted(sorted_);
  }

  /// Copies rows this rank has written to other rows: (to, from) pairs. Returns the copies.
  detail::UrlColumns copy_rows(
      const std::vector<std::pair<std::uint64_t, std::uint64_t>>& to_from) {
    flush();
    detail::UrlColumns all, block;
    all.url_len = block.url_len = dsets_->url_len();
    all.final_len = block.final_len = dsets_->final_len();
    std::vector<hsize_t> coords;
    for (std::size_t begin = 0; begin < to_from.size(); begin += kFlushRows) {
      const std::size_t n = std::min(kFlushRows, to_from.size() - begin);
      block.resize(n);
      coords.clear();
      for (std::size_t i = 0; i < n; ++i) coords.push_back(to_from[begin + i].second);
      dsets_->transfer_points(block, coords, /*write=*/false);
      coords.clear();
      for (std::size_t i = 0; i < n; ++i) coords.push_back(to_from[begin + i].first);
      dsets_->transfer_points(block, coords, /*write=*/true);
      for (std::size_t i = 0; i < n; ++i) all.add_from(block, i);
    }
    return all;
  }

  void close() {
    flush();
    dsets_->close();
    file_.close("close results file");
  }

 private:
  h5::Handle file_;
  std::optional<detail::UrlDatasets> dsets_;
  detail::UrlColumns pending_, sorted_;
  std::vector<std::size_t> order_;
};

/// Calls poll() every 20 ms in its own thread until it returns true or stop() (or the
/// destructor) is called, which wakes the thread at once instead of after its sleep.
class StopWatcher {
 public:
  explicit StopWatcher(std::function<bool()> poll)
      : thread_([this, poll = std::move(poll)] {
          std::unique_lock lock(mutex_);
          while (!done_) {
            lock.unlock();
            const bool stopped = poll();
            lock.lock();
            if (stopped) return;
            wake_.wait_for(lock, std::chrono::milliseconds(20), [this] { return done_; });
          }
        }) {}
  StopWatcher(const StopWatcher&) = delete;
  StopWatcher& operator=(const StopWatcher&) = delete;
  ~StopWatcher() { stop(); }
  void stop() {
    {
      const std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

/// What an earlier run left in the file (--resume): which rows are done, and their tallies.
struct PriorRows {
  std::vector<std::uint8_t> done;     // bit per row
  std::vector<std::int8_t> verdicts;  // per row, kept for --print only
  // exists, does not exist, unknown, invalid, reported, interrupted
  std::uint64_t counts[6] = {0, 0, 0, 0, 0, 0};
  [[nodiscard]] bool is_done(std::uint64_t row) const {
    return !done.empty() && (done[row / 8] >> (row % 8) & 1U) != 0;
  }
};

/// Rank 0, --resume: checks that `path` holds /urls of this list and shard, and reads which rows
/// are done (checked and not interrupted), in blocks.
PriorRows read_prior_rows(const std::string& path, std::uint64_t total, const std::string& list,
                          const UrlJob& job) {
  h5::silence_errors();
  const std::string fix = "; run without --resume (with --force) to start over";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw UsageError("--resume: " + path + " does not exist; run without --resume first");
  }
  if (!h5::is_hdf5(path)) throw UsageError("--resume: " + path + " is not an HDF5 file" + fix);
  h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "open " + path);
  if (H5Lexists(file.get(), "urls", H5P_DEFAULT) <= 0) {
    throw UsageError("--resume: " + path + " has no /urls to resume" + fix);
  }
  {
    h5::Handle g(H5Gopen2(file.get(), "urls", H5P_DEFAULT), "open /urls");
    const auto int_attr = [&](const char* name, std::int64_t fallback) {
      return h5::has_attr(g.get(), name) ? h5::read_attr_int(g.get(), name) : fallback;
    };
    const std::string had =
        h5::has_attr(g.get(), "list_fnv") ? h5::read_attr_string(g.get(), "list_fnv") : "";
    if (int_attr("urls", -1) != static_cast<std::int64_t>(total) || had != list) {
      throw UsageError("--resume: " + path + " holds the results of another URL list (" +
                       std::to_string(int_attr("urls", -1)) + " URLs, fingerprint " + had + "; " +
                       job.input + " has " + std::to_string(total) + ", " + list + ")" + fix);
    }
    if (int_attr("shard_index", 0) != job.shard_index ||
        int_attr("shard_count", 1) != job.shard_count) {
      throw UsageError(
          "--resume: " + path + " is shard " + std::to_string(int_attr("shard_index", 0)) + "/" +
          std::to_string(int_attr("shard_count", 1)) + ", not " + std::to_string(job.shard_index) +
          "/" + std::to_string(job.shard_count) + fix);
    }
  }
  detail::UrlDatasets dsets(file.get());
  if (dsets.rows() != total)
    throw UsageError("--resume: " + path + ": /urls has the wrong size" + fix);
  PriorRows prior;
  prior.done.assign((total + 7) / 8, 0);
  if (job.print) prior.verdicts.assign(total, -1);
  detail::UrlColumns block;
  constexpr std::uint64_t kBlock = 16384;
  for (std::uint64_t first = 0; first < total; first += kBlock) {
    const std::uint64_t n = std::min(kBlock, total - first);
    dsets.read(block, first, n, detail::kUrlDoneColumns);
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::int8_t v = block.verdicts[i];
      const std::string_view error =
          std::string_view(block.errors).substr(i * detail::kUrlErrorLen, detail::kUrlErrorLen);
      if (!detail::url_row_done(v, error)) continue;
      const std::uint64_t row = first + i;
      prior.done[row / 8] = static_cast<std::uint8_t>(prior.done[row / 8] | (1U << (row % 8)));
      ++prior.counts[v];
      if (detail::url_row_invalid(v, block.attempts[i], error)) ++prior.counts[3];
      ++prior.counts[4];
      if (job.print) prior.verdicts[row] = v;
    }
  }
  dsets.close();
  file.close("close " + path);
  return prior;
}

std::string fixed3(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}

}  // namespace

std::string UrlReport::line() const {
  std::ostringstream os;
  os << "pmap-report stage=urls ranks=" << ranks << " threads=" << threads << " urls=" << urls
     << " exists=" << exists << " does_not_exist=" << does_not_exist << " unknown=" << unknown
     << " invalid=" << invalid << " wall_seconds=" << fixed3(wall_seconds)
     << " urls_per_second=" << fixed3(urls_per_second());
  return os.str();
}

std::string UrlReport::summary() const {
  std::ostringstream os;
  os << "urls: " << urls << " URLs (" << exists << " exist, " << does_not_exist << " do not exist, "
     << unknown << " unknown";
  if (invalid > 0) os << " of which " << invalid << " invalid";
  os << ") in " << fixed3(wall_seconds) << " s, " << fixed3(urls_per_second()) << " URLs/s on "
     << ranks << (ranks == 1 ? " rank" : " ranks") << " x " << threads << " I/O threads\n";
  return os.str();
}

UrlReport run_urls(const UrlJob& job, MPI_Comm comm) {
  const int rank = mpi::rank(comm);
  const int size = mpi::size(comm);
  const bool write_file = !job.output.empty();
  const auto t_start = clock_type::now();

  // Validate options (throws UsageError) and the output before reading anything big.
  const UrlChecker checker(job.options);
  if (job.shard_count < 1 || job.shard_index < 0 || job.shard_index >= job.shard_count) {
    throw UsageError("--shard " + std::to_string(job.shard_index) + "/" +
                     std::to_string(job.shard_count) + ": expected I/N with 0 <= I < N");
  }
  if (job.resume && !write_file) {
    throw UsageError("--resume needs --output: the results file of the run to resume");
  }
  if (write_file && !job.append && !job.resume) {
    std::string err;
    if (rank == 0) {
      try {
        check_output_path(job.output, job.force);
      } catch (const UsageError& e) {
        err = e.what();
      }
    }
    err = mpi::bcast_string(comm, err);
    if (!err.empty()) throw UsageError(err);
  }

  // Every rank reads the list to size the file, then once more to find the URLs that may repeat
  // (and, for a shard, to count its URLs); the checks stream it a third time, so memory does not
  // grow with the list.
  const auto shards = static_cast<std::uint64_t>(job.shard_count);
  const auto in_shard = [&](std::uint64_t hash) {
    return hash % shards == static_cast<std::uint64_t>(job.shard_index);
  };
  std::uint64_t total = 0, max_len = 1, shard_urls = 0;
  detail::Fnv1a64 list_hash;  // the list's identity: its kept lines, each ended by \n
  std::optional<detail::RepeatFilter> repeat_filter;
  std::string err;
  try {
    for_each_url(job.input, [&](std::uint64_t, const std::string& url) {
      ++total;
      max_len = std::max<std::uint64_t>(max_len, std::min<std::size_t>(url.size(), 8192));
      list_hash.add(url);
      list_hash.add("\n");
    });
    repeat_filter.emplace(total);
    for_each_url(job.input, [&](std::uint64_t, const std::string& url) {
      repeat_filter->add(url);
      if (shards > 1 && in_shard(host_hash(url_host(url)))) ++shard_urls;
    });
    if (shards == 1) shard_urls = total;
  } catch (const UsageError& e) {
    err = e.what();
  }
  int bad = err.empty() ? 0 : 1;
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, comm), "MPI_Allreduce");
  if (bad != 0) {
    // Rank 0's message when it has one, else a generic one.
    throw UsageError(err.empty() ? "--input " + job.input + ": unreadable on another rank" : err);
  }
  const std::size_t url_len = max_len;
  const std::size_t final_len = std::max<std::size_t>(detail::kUrlMinFinalLen, url_len);
  const std::string list_fnv = list_hash.hex();

  // Rank 0 creates /urls, or with --resume reads which rows an earlier run finished (a stage
  // appended to a compute file that has no /urls yet starts afresh).
  PriorRows prior;
  std::string create_error;
  int create_code = 0;
  int resuming = 0;
  if (write_file && rank == 0) {
    try {
      h5::silence_errors();
      bool has_urls = false;
      if (job.resume && job.append && std::filesystem::exists(job.output) &&
          h5::is_hdf5(job.output)) {
        h5::Handle f(H5Fopen(job.output.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT),
                     "open " + job.output);
        has_urls = H5Lexists(f.get(), "urls", H5P_DEFAULT) > 0;
      }
      resuming = job.resume && (has_urls || !job.append) ? 1 : 0;
      if (resuming != 0) {
        prior = read_prior_rows(job.output, total, list_fnv, job);
      } else {
        Attrs root = {{"pmap_version", std::string(kVersion)},
                      {"schema_version", std::int64_t{1}},
                      {"created", iso8601_now()},
                      {"command", job.command},
                      {"mpi_ranks", std::int64_t{size}},
                      {"omp_threads", std::int64_t{1}}};
        Attrs attrs = {
            {"input", job.input},
            {"timeout", job.options.timeout},
            {"threads", std::int64_t{checker.options().threads}},  // lowered to the fd limit
            {"threads_requested", std::int64_t{checker.requested_threads()}},
            {"retries", std::int64_t{job.options.retries}},
            {"per_host", std::int64_t{job.options.per_host}},
            {"method", std::string(job.options.method == HttpMethod::Head ? "head" : "get")},
            {"urls", static_cast<std::int64_t>(total)},
            {"list_fnv", list_fnv},
            {"shard_index", std::int64_t{job.shard_index}},
            {"shard_count", std::int64_t{job.shard_count}},
            {"shard_urls", static_cast<std::int64_t>(shard_urls)}};
        h5::Handle file;
        if (job.append) {
          file = h5::Handle(H5Fopen(job.output.c_str(), H5F_ACC_RDWR, H5P_DEFAULT),
                            "open " + job.output);
          if (H5Lexists(file.get(), "urls", H5P_DEFAULT) > 0) {
            h5::check(H5Ldelete(file.get(), "urls", H5P_DEFAULT), "replace /urls");
          }
        } else {
          file = h5::Handle(H5Fcreate(job.output.c_str(), job.force ? H5F_ACC_TRUNC : H5F_ACC_EXCL,
                                      H5P_DEFAULT, H5P_DEFAULT),
                            "create " + job.output);
          write_attrs(file.get(), root);
        }
        detail::create_urls_group(file.get(), total, url_len, final_len, attrs);
        h5::check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "flush");
        file.close("close " + job.output);
      }
    } catch (const Error& e) {
      create_error = e.what();
      create_code = static_cast<int>(e.code());
    }
  }
  mpi::bcast_sleeping(&create_code, 1, MPI_INT, 0, comm);  // waiters sleep behind the create
  if (create_code != 0) {
    create_error = mpi::bcast_string(comm, create_error);
    if (create_code == static_cast<int>(ExitCode::Usage)) throw UsageError(create_error);
    throw RuntimeError(create_error);
  }
  mpi::check(MPI_Bcast(&resuming, 1, MPI_INT, 0, comm), "MPI_Bcast");
  if (resuming != 0) {
    prior.done.resize((total + 7) / 8);
    for (std::uint64_t at = 0; at < prior.done.size(); at += 1U << 30) {  // int counts
      const auto n = static_cast<int>(std::min<std::uint64_t>(1U << 30, prior.done.size() - at));
      mpi::check(MPI_Bcast(prior.done.data() + at, n, MPI_UINT8_T, 0, comm), "MPI_Bcast");
    }
  }
  // Rows done earlier, or by this run: tallied on rank 0, summed over ranks at the end.
  std::uint64_t prior_done = prior.counts[4];
  mpi::check(MPI_Bcast(&prior_done, 1, MPI_UINT64_T, 0, comm), "MPI_Bcast");

  std::unique_ptr<UrlRowWriter> writer;
  if (write_file) writer = std::make_unique<UrlRowWriter>(job.output, comm);

  // Progress across ranks reuses the dispatcher's reporting (no chunks are claimed).
  const std::uint64_t to_check = shard_urls - std::min(shard_urls, prior_done);
  Dispatcher progress_channel(comm, {Schedule::Static, to_check, 1, size});
  std::unique_ptr<Progress> progress;
  if (rank == 0 && job.progress != ProgressMode::None) {
    progress = std::make_unique<Progress>(job.progress, "urls", to_check);
    const auto interval = progress->mode() == ProgressMode::Bar ? std::chrono::milliseconds(100)
                                                                : std::chrono::milliseconds(500);
    progress_channel.on_tick([p = progress.get()](std::uint64_t done) { p->update(done); },
                             interval);
  }

  // exists, does not exist, unknown, invalid, reported, interrupted
  std::uint64_t counts[6] = {0, 0, 0, 0, 0, 0};
  // (row, verdict) of this rank's rows, for --print (and for repeats when there is no file).
  std::vector<std::pair<std::uint64_t, std::int8_t>> verdicts;
  std::mutex m;
  auto last_flush = clock_type::now();
  // A stop anywhere stops every rank: the watcher forwards a local signal to rank 0 (which
  // tells every rank) and turns the job-wide stop into the flag the checker polls.
  std::atomic<bool> url_stop{false};
  StopWatcher watcher([&] {
    if (stop_requested()) progress_channel.request_stop();
    if (!progress_channel.stopping()) return false;
    url_stop = true;
    return true;
  });
  // This rank's URLs: those of the shard whose host hashes to it, so a host's per-host limit
  // holds across the job (and across the shards of an array running at once); with --resume,
  // not those an earlier run finished.
  UrlLines lines(job.input);
  const auto mine = [&](std::size_t& index, std::string& url) {
    std::uint64_t row = 0;
    while (lines.next(row, url)) {
      const std::uint64_t hash = host_hash(url_host(url));
      if (in_shard(hash) &&
          (hash / shards) % static_cast<std::uint64_t>(size) == static_cast<std::uint64_t>(rank) &&
          !prior.is_done(row)) {
        index = row;
        return true;
      }
    }
    return false;
  };
  const auto record = [&](std::uint64_t row, Verdict verdict, bool invalid, bool interrupted) {
    ++counts[static_cast<int>(verdict)];
    if (invalid) ++counts[3];
    ++counts[4];
    if (interrupted) ++counts[5];
    if (!write_file || job.print) verdicts.emplace_back(row, static_cast<std::int8_t>(verdict));
    progress_channel.add_done(1);
  };
  std::vector<std::pair<std::uint64_t, std::uint64_t>> repeats;  // (row, first row of its URL)
  checker.check_stream(
      mine,
      [&](std::size_t row, const UrlResult& r) {
        std::lock_guard lock(m);
        record(row, r.verdict, r.attempts == 0 && r.error.rfind("invalid URL", 0) == 0,
               r.error == "interrupted");
        if (writer) {
          writer->add(row, r);
          const auto now = clock_type::now();
          if (writer->pending() >= kFlushRows ||
              std::chrono::duration<double>(now - last_flush).count() >= kFlushSeconds) {
            writer->flush();
            last_flush = now;
          }
        }
      },
      [&](std::size_t row, std::size_t first_row) {
        std::lock_guard lock(m);
        repeats.emplace_back(row, first_row);
      },
      &url_stop, [&](std::string_view url) { return repeat_filter->may_repeat(url); });
  // A URL named again after its check finished takes the result already recorded for it.
  if (!repeats.empty()) {
    if (writer) {
      const detail::UrlColumns copies = writer->copy_rows(repeats);
      for (std::size_t i = 0; i < repeats.size(); ++i) {
        const std::string error = copies.error(i);
        record(repeats[i].first, static_cast<Verdict>(copies.verdicts[i]),
               detail::url_row_invalid(copies.verdicts[i], copies.attempts[i], error),
               error == "interrupted");
      }
    } else {
      std::sort(verdicts.begin(), verdicts.end());
      for (const auto& [row, first_row] : repeats) {
        const auto it = std::lower_bound(verdicts.begin(), verdicts.end(),
                                         std::pair<std::uint64_t, std::int8_t>(first_row, -1));
        record(row, static_cast<Verdict>(it->second), false, false);
      }
    }
  }
  watcher.stop();
  if (stop_requested()) progress_channel.request_stop();
  progress_channel.finish();
  if (writer) writer->close();
  if (progress) progress->finish(progress_channel.done_total());

  if (rank == 0) {
    for (int i = 0; i < 5; ++i) counts[i] += prior.counts[i];
  }
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, counts, 6, MPI_UINT64_T, MPI_SUM, comm), "MPI_Allreduce");
  double wall = std::chrono::duration<double>(clock_type::now() - t_start).count();
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &wall, 1, MPI_DOUBLE, MPI_MAX, comm), "MPI_Allreduce");
  UrlReport report;
  report.urls = shard_urls;
  report.exists = counts[0];
  report.does_not_exist = counts[1];
  report.unknown = counts[2];
  report.invalid = counts[3];
  report.ranks = size;
  report.threads = checker.options().threads;
  report.wall_seconds = wall;
  int interrupted = url_stop.load() || stop_requested() ? 1 : 0;
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &interrupted, 1, MPI_INT, MPI_MAX, comm), "MPI_Allreduce");
  report.interrupted = interrupted != 0;
  // Rows of the shard done for good (interrupted ones are checked again by --resume).
  const std::uint64_t checked = counts[4] - counts[5];

  if (job.print) {
    // Gather (row, verdict) on rank 0 and print in input order, re-reading the list.
    std::vector<std::uint64_t> rows;
    std::vector<std::int8_t> vs;
    for (const auto& [row, v] : verdicts) {
      rows.push_back(row);
      vs.push_back(v);
    }
    int n = static_cast<int>(rows.size());
    std::vector<int> counts_per(static_cast<std::size_t>(size)),
        displs(static_cast<std::size_t>(size));
    mpi::check(MPI_Gather(&n, 1, MPI_INT, counts_per.data(), 1, MPI_INT, 0, comm), "MPI_Gather");
    int all_n = 0;
    if (rank == 0) {
      for (int r = 0; r < size; ++r) {
        displs[static_cast<std::size_t>(r)] = all_n;
        all_n += counts_per[static_cast<std::size_t>(r)];
      }
    }
    std::vector<std::uint64_t> all_rows(static_cast<std::size_t>(all_n));
    std::vector<std::int8_t> all_vs(static_cast<std::size_t>(all_n));
    mpi::check(MPI_Gatherv(rows.data(), n, MPI_UINT64_T, all_rows.data(), counts_per.data(),
                           displs.data(), MPI_UINT64_T, 0, comm),
               "MPI_Gatherv");
    mpi::check(MPI_Gatherv(vs.data(), n, MPI_INT8_T, all_vs.data(), counts_per.data(),
                           displs.data(), MPI_INT8_T, 0, comm),
               "MPI_Gatherv");
    if (rank == 0) {
      // Rows an earlier run finished (--resume) print from the file's verdicts.
      std::vector<std::int8_t> by_row =
          prior.verdicts.empty() ? std::vector<std::int8_t>(total, -1) : std::move(prior.verdicts);
      for (std::size_t i = 0; i < all_rows.size(); ++i) by_row[all_rows[i]] = all_vs[i];
      for_each_url(job.input, [&](std::uint64_t row, const std::string& url) {
        if (by_row[row] < 0) return;  // interrupted before it was checked
        std::cout << url << " - " << to_string(static_cast<Verdict>(by_row[row])) << "\n";
      });
      std::cout.flush();
    }
  }

  if (write_file && rank == 0) {
    h5::Handle file(H5Fopen(job.output.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), "reopen " + job.output);
    h5::Handle g(H5Gopen2(file.get(), "urls", H5P_DEFAULT), "open /urls");
    write_attrs(g.get(), {{"timeout", job.options.timeout},  // the last run's (--resume)
                          {"threads", std::int64_t{checker.options().threads}},
                          {"threads_requested", std::int64_t{checker.requested_threads()}},
                          {"retries", std::int64_t{job.options.retries}},
                          {"per_host", std::int64_t{job.options.per_host}},
                          {"wall_seconds", wall},
                          {"urls_per_second", report.urls_per_second()},
                          {"exists", static_cast<std::int64_t>(report.exists)},
                          {"does_not_exist", static_cast<std::int64_t>(report.does_not_exist)},
                          {"unknown", static_cast<std::int64_t>(report.unknown)},
                          {"invalid", static_cast<std::int64_t>(report.invalid)},
                          {"checked", static_cast<std::int64_t>(checked)},
                          {"report", report.line()}});
    g.reset();
    file.close("close " + job.output);
  }
  if (rank == 0 && job.print_summary) {
    std::cout << report.summary() << report.line() << "\n";
    std::cout.flush();
  }
  return report;
}

}  // namespace pmap
