#include "pmap/url_stage.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "detail/fnv.hpp"
#include "detail/repeat_filter.hpp"
#include "detail/text.hpp"
#include "detail/url_file.hpp"
#include "pmap/collective.hpp"
#include "pmap/compute.hpp"
#include "pmap/engine.hpp"
#include "pmap/error.hpp"
#include "pmap/h5.hpp"
#include "pmap/mpi.hpp"
#include "pmap/results.hpp"
#include "pmap/results_file.hpp"
#include "pmap/schedule.hpp"
#include "pmap/stop.hpp"
#include "pmap/tally.hpp"

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
      throw UsageError::cannot_open("urls.input", path, std::strerror(errno),
                                    "; give a readable text file with one URL a line");
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
    if (in_.bad()) throw UsageError("urls.input", path_, "read error");
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

/// A URL of a shard and where it goes: its row in the results file and in the list.
struct ShardLine {
  std::uint64_t file_row = 0, list_row = 0, host_hash = 0;
  std::string url;
};

/// Reads the URLs of shard `index` of `count` (those whose host hashes to it) one at a time,
/// numbering them as the results file does: by list row, or one after the other when the file
/// holds only the shard's rows.
class ShardLines {
 public:
  ShardLines(const std::string& path, int index, int count, bool shard_rows_only)
      : lines_(path),
        index_(static_cast<std::uint64_t>(index)),
        count_(static_cast<std::uint64_t>(count)),
        compact_(shard_rows_only) {}
  /// The next URL of the shard; false at the end of the file.
  bool next(ShardLine& l) {
    while (lines_.next(l.list_row, l.url)) {
      l.host_hash = host_hash(url_host(l.url));
      if (l.host_hash % count_ != index_) continue;
      l.file_row = compact_ ? file_rows_ : l.list_row;
      ++file_rows_;
      return true;
    }
    return false;
  }

 private:
  UrlLines lines_;
  std::uint64_t index_, count_;
  bool compact_;
  std::uint64_t file_rows_ = 0;
};

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
    file_ = h5::File::open(path, h5::Access::ReadWrite, fapl.get());
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
  h5::File file_;
  std::optional<detail::UrlDatasets> dsets_;
  detail::UrlColumns pending_, sorted_;
  std::vector<std::size_t> order_;
};

/// What an earlier run left in the file (--resume): which rows are done, and their tallies.
struct PriorRows {
  std::vector<std::uint8_t> done;     // bit per row
  std::vector<std::int8_t> verdicts;  // per row, kept for --print only
  UrlTally tally;                     // of the rows done
  [[nodiscard]] bool is_done(std::uint64_t row) const {
    return !done.empty() && (done[row / 8] >> (row % 8) & 1U) != 0;
  }
};

/// Rank 0, --resume: checks that `path` holds /urls of this list and shard, and reads which rows
/// are done (checked and not interrupted), in blocks.
/// What a results file of the URL stage says it holds: the list (its URLs and fingerprint) and
/// which shard of it; with `own_rows`, only that shard's URLs.
struct ListIdentity {
  std::string input;
  std::uint64_t urls = 0;
  std::string fnv;
  int index = 0, count = 1;
  bool own_rows = false;
};

PriorRows read_prior_rows(const std::string& path, const ListIdentity& id, std::uint64_t file_rows,
                          const UrlJob& job) {
  const std::uint64_t total = id.urls;
  const std::string& list = id.fnv;
  const std::string fix = "; run without --resume (with --force) to start over";
  ResultsFile results = open_results_file(path, "--resume", fix);
  if (!results.urls) throw UsageError("--resume " + path + ": has no /urls to resume" + fix);
  const h5::File& file = results.file;
  {
    const h5::Group g = file.group("urls");
    const auto int_attr = [&](const char* name, std::int64_t fallback) {
      return g.has_attr(name) ? h5::read_attr_int(g.get(), name) : fallback;
    };
    const std::string had = g.has_attr("list_fnv") ? h5::read_attr_string(g.get(), "list_fnv") : "";
    if (int_attr("urls", -1) != static_cast<std::int64_t>(total) || had != list) {
      throw UsageError("--resume " + path + ": holds the results of another URL list (" +
                       std::to_string(int_attr("urls", -1)) + " URLs, fingerprint " + had + "; " +
                       id.input + " has " + std::to_string(total) + ", " + list + ")" + fix);
    }
    if (int_attr("shard_index", 0) != id.index || int_attr("shard_count", 1) != id.count) {
      throw UsageError("--resume " + path + ": is shard " +
                       std::to_string(int_attr("shard_index", 0)) + "/" +
                       std::to_string(int_attr("shard_count", 1)) + ", not " +
                       std::to_string(id.index) + "/" + std::to_string(id.count) + fix);
    }
  }
  detail::UrlDatasets dsets(file.get());
  if (dsets.has_list_rows() != id.own_rows) {
    throw UsageError("--resume " + path + ": /urls holds " +
                     (dsets.has_list_rows() ? "only its shard's URLs" : "a row for every URL") +
                     ", this run writes " +
                     (id.own_rows ? "only the shard's URLs" : "a row for every URL") + fix);
  }
  if (dsets.rows() != file_rows)
    throw UsageError("--resume " + path + ": /urls has the wrong size" + fix);
  PriorRows prior;
  prior.done.assign((file_rows + 7) / 8, 0);
  if (job.print) prior.verdicts.assign(file_rows, -1);
  detail::UrlColumns block;
  constexpr std::uint64_t kBlock = 16384;
  for (std::uint64_t first = 0; first < file_rows; first += kBlock) {
    const std::uint64_t n = std::min(kBlock, file_rows - first);
    dsets.read(block, first, n, detail::kUrlDoneColumns);
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::int8_t v = block.verdicts[i];
      const std::string_view error =
          std::string_view(block.errors).substr(i * detail::kUrlErrorLen, detail::kUrlErrorLen);
      if (!detail::url_row_done(v, error)) continue;
      const std::uint64_t row = first + i;
      prior.done[row / 8] = static_cast<std::uint8_t>(prior.done[row / 8] | (1U << (row % 8)));
      prior.tally.count(v, detail::url_row_invalid(v, block.attempts[i], error));
      if (job.print) prior.verdicts[row] = v;
    }
  }
  dsets.close();
  return prior;
}

/// The rows file of a part (UrlListPart::rows): `n` int64, or UsageError.
std::vector<std::int64_t> read_part_rows(const std::string& path, std::uint64_t n) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::int64_t> rows(n);
  in.read(reinterpret_cast<char*>(rows.data()),
          static_cast<std::streamsize>(n * sizeof(std::int64_t)));
  if (!in || in.peek() != std::char_traits<char>::eof()) {
    throw UsageError("urls part", path,
                     "does not hold the rows of its " + std::to_string(n) +
                         " URLs (changed or cut short?); cut the list again in a new job folder");
  }
  return rows;
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
     << ranks << (ranks == 1 ? " rank" : " ranks") << " x " << threads << " requests in flight\n";
  return os.str();
}

namespace {

/// What every rank reads of the list before anything is created.
struct UrlList {
  std::uint64_t total = 0;        ///< URL lines
  std::uint64_t shard_urls = 0;   ///< of them in this shard
  std::size_t url_len = 1;        ///< width of the url column: the longest URL of the list
  std::size_t shard_url_len = 1;  ///< ... of the shard
  std::string fnv;                ///< the list's identity: its kept lines, each ended by \n
  std::optional<detail::RepeatFilter> repeats;
  std::vector<std::int64_t> list_rows;  ///< rank 0, shard_rows_only: the shard's rows in the list
};

/// The URL stage: each rank checks the URLs whose host hashes to it, rows into /urls.
class UrlStage final : public Stage {
 public:
  explicit UrlStage(const UrlJob& job) : job_(job), checker_(job.options) {}

  [[nodiscard]] std::string_view name() const override { return "urls"; }
  void prepare(MPI_Comm comm) override;
  void preflight() const override {
    if (!job_.append) check_output_path(job_.output, job_.force);
  }
  void create(const Attrs& root) override;
  [[nodiscard]] std::string plan_resume() override;
  void adopt(const std::string& plan) override;
  void open(MPI_Comm comm) override {
    if (!job_.output.empty()) writer_ = std::make_unique<UrlRowWriter>(job_.output, comm);
  }
  [[nodiscard]] std::uint64_t units() const override {
    return list_.shard_urls - std::min(list_.shard_urls, prior_done_);
  }
  void work(Channel& channel) override;
  void reduce(MPI_Comm comm, const Ending& ending) override;
  void finalize() override;
  void print_summary(std::ostream& out) const override {
    out << report_.summary() << report_.line() << "\n";
  }
  [[nodiscard]] const UrlReport& report() const noexcept { return report_; }

 private:
  [[nodiscard]] bool in_shard(std::uint64_t hash) const {
    return hash % static_cast<std::uint64_t>(job_.shard_count) ==
           static_cast<std::uint64_t>(job_.shard_index);
  }
  void read_list();
  /// True when the file holds only the shard's URLs (/urls/row: their rows in the list).
  [[nodiscard]] bool own_rows() const { return job_.shard_rows_only || job_.part_of; }
  /// Rows of the results file: the shard's URLs, or every URL of the list.
  [[nodiscard]] std::uint64_t file_rows() const {
    return own_rows() ? list_.shard_urls : list_.total;
  }
  [[nodiscard]] ShardLines shard_lines() const {
    return {job_.input, job_.shard_index, job_.shard_count, own_rows()};
  }
  /// The list and shard the file says it holds: `input`'s, or the whole list's of a part.
  [[nodiscard]] ListIdentity identity() const {
    if (const auto& p = job_.part_of)
      return {p->list, p->urls, p->list_fnv, p->index, p->count, true};
    return {job_.input, list_.total, list_.fnv, job_.shard_index, job_.shard_count, own_rows()};
  }
  void write_list_rows(hid_t file);
  [[nodiscard]] Attrs attributes() const;
  void record(std::uint64_t row, Verdict verdict, bool invalid, bool interrupted);
  void copy_repeats();
  void print_verdicts(MPI_Comm comm);

  const UrlJob& job_;
  const UrlChecker checker_;  // validates the options
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  std::chrono::steady_clock::time_point t_start_ = std::chrono::steady_clock::now();
  UrlList list_;
  PriorRows prior_;
  std::uint64_t prior_done_ = 0;  // rows an earlier run finished (every rank)
  std::unique_ptr<UrlRowWriter> writer_;
  Channel* channel_ = nullptr;
  std::mutex mutex_;
  UrlTally tally_;
  std::vector<std::pair<std::uint64_t, std::int8_t>> verdicts_;   // (row, verdict) for --print
  std::vector<std::pair<std::uint64_t, std::uint64_t>> repeats_;  // (row, first row of its URL)
  std::chrono::steady_clock::time_point last_flush_ = std::chrono::steady_clock::now();
  UrlReport report_;
};

void UrlStage::prepare(MPI_Comm comm) {
  check_shard(job_.shard_index, job_.shard_count);
  if (job_.part_of) {
    check_shard(job_.part_of->index, job_.part_of->count);
    if (job_.shard_count != 1)
      throw UsageError("urls", job_.input, "a part of a list is not cut again");
  }
  if (job_.resume && job_.output.empty()) {
    throw UsageError("resume", "", "needs the results file of the run to resume: set `output`");
  }
  comm_ = comm;
  rank_ = mpi::rank(comm);
  size_ = mpi::size(comm);
  // Every rank reads the list to size the file, then once more to find the URLs that may repeat
  // (and, for a shard, to count its URLs); the checks stream it a third time, so memory does not
  // grow with the list.
  std::exception_ptr error;
  try {
    read_list();
  } catch (const UsageError&) {
    error = std::current_exception();
  }
  if (any_rank(comm, static_cast<bool>(error))) {
    mpi::agree_on_error(comm, rank_ == 0 ? error : nullptr);  // rank 0's error, on every rank
    throw UsageError("urls.input", job_.input, "unreadable on another rank");
  }
}

void UrlStage::read_list() {
  detail::Fnv1a64 hash;
  std::uint64_t max_len = 1;
  for_each_url(job_.input, [&](std::uint64_t, const std::string& url) {
    ++list_.total;
    max_len = std::max<std::uint64_t>(max_len, std::min<std::size_t>(url.size(), 8192));
    hash.add(url);
    hash.add("\n");
  });
  list_.repeats.emplace(list_.total);
  std::uint64_t shard_max_len = 1;
  const bool keep_rows = own_rows() && !job_.part_of && rank_ == 0;
  for_each_url(job_.input, [&](std::uint64_t row, const std::string& url) {
    list_.repeats->add(url);
    if (job_.shard_count == 1) {
      if (keep_rows) list_.list_rows.push_back(static_cast<std::int64_t>(row));
    } else if (in_shard(host_hash(url_host(url)))) {
      if (keep_rows) list_.list_rows.push_back(static_cast<std::int64_t>(row));
      ++list_.shard_urls;
      shard_max_len =
          std::max<std::uint64_t>(shard_max_len, std::min<std::size_t>(url.size(), 8192));
    }
  });
  if (job_.shard_count == 1) {
    list_.shard_urls = list_.total;
    shard_max_len = max_len;
  }
  list_.url_len = max_len;
  list_.shard_url_len = shard_max_len;
  list_.fnv = hash.hex();
}

Attrs UrlStage::attributes() const {
  const UrlOptions& o = job_.options;
  const ListIdentity id = identity();
  return {{"input", id.input},
          {"timeout", o.timeout},
          {"threads", std::int64_t{checker_.options().threads}},  // lowered to the fd limit
          {"threads_requested", std::int64_t{checker_.requested_threads()}},
          {"retries", std::int64_t{o.retries}},
          {"per_host", std::int64_t{o.per_host}},
          {"method", std::string(o.method == HttpMethod::Head ? "head" : "get")},
          {"urls", static_cast<std::int64_t>(id.urls)},
          {"list_fnv", id.fnv},
          {"shard_index", std::int64_t{id.index}},
          {"shard_count", std::int64_t{id.count}},
          {"shard_urls", static_cast<std::int64_t>(list_.shard_urls)}};
}

/// A new file with the root attributes, or /urls (re)placed in the compute stage's file.
void UrlStage::create(const Attrs& root) {
  h5::File file;
  if (job_.append) {
    file = h5::File::open(job_.output, h5::Access::ReadWrite);
    if (file.has("urls")) h5::check(H5Ldelete(file.get(), "urls", H5P_DEFAULT), "replace /urls");
  } else {
    file = h5::File::create(job_.output, job_.force);
    write_attrs(file.get(), root);
  }
  const std::size_t url_len = own_rows() ? list_.shard_url_len : list_.url_len;
  const std::size_t final_len = std::max<std::size_t>(detail::kUrlMinFinalLen, url_len);
  detail::create_urls_group(file.get(), file_rows(), url_len, final_len, attributes(), own_rows());
  if (own_rows()) write_list_rows(file.get());
  file.flush();
  file.close("close " + job_.output);
}

/// /urls/row of a file that holds only the shard's URLs: their rows in the list (gathered by
/// read_list, 8 bytes a URL of the shard, freed once written).
void UrlStage::write_list_rows(hid_t file) {
  if (job_.part_of) list_.list_rows = read_part_rows(job_.part_of->rows, file_rows());
  detail::UrlDatasets dsets(file);
  if (list_.list_rows.size() != file_rows()) {
    throw RuntimeError("write /urls/row: " + std::to_string(list_.list_rows.size()) +
                       " rows gathered for " + std::to_string(file_rows()) + " URLs");
  }
  dsets.write_list_rows(list_.list_rows, 0);
  dsets.close();
  std::vector<std::int64_t>().swap(list_.list_rows);
}

/// Rows an earlier run finished, as "R", their count and a bit per row; a stage appended to a
/// compute file that has no /urls yet starts afresh ("").
std::string UrlStage::plan_resume() {
  if (job_.append && std::filesystem::exists(job_.output) && h5::is_hdf5(job_.output)) {
    if (!h5::File::open(job_.output, h5::Access::ReadOnly).has("urls")) {
      create({});
      return "";
    }
  }
  prior_ = read_results(job_.output, "--resume", [&] {
    return read_prior_rows(job_.output, identity(), file_rows(), job_);
  });
  std::string plan = "R";
  const std::uint64_t done = prior_.tally.total();
  plan.append(reinterpret_cast<const char*>(&done), sizeof done);
  plan.append(reinterpret_cast<const char*>(prior_.done.data()), prior_.done.size());
  return plan;
}

void UrlStage::adopt(const std::string& plan) {
  if (plan.empty()) return;
  std::memcpy(&prior_done_, plan.data() + 1, sizeof prior_done_);
  if (rank_ != 0) prior_.done.assign(plan.begin() + 1 + sizeof prior_done_, plan.end());
}

void UrlStage::record(std::uint64_t row, Verdict verdict, bool invalid, bool interrupted) {
  tally_.count(static_cast<int>(verdict), invalid, interrupted);
  if (job_.output.empty() || job_.print) {
    verdicts_.emplace_back(row, static_cast<std::int8_t>(verdict));
  }
  channel_->add_done(1);
}

void UrlStage::work(Channel& channel) {
  channel_ = &channel;
  // This rank's URLs: those of the shard whose host hashes to it, so a host's per-host limit
  // holds across the job (and across the shards of an array running at once); with --resume,
  // not those an earlier run finished.
  ShardLines lines = shard_lines();
  ShardLine l;
  const auto shards = static_cast<std::uint64_t>(job_.shard_count);
  const auto mine = [&](std::size_t& index, std::string& url) {
    while (lines.next(l)) {
      if ((l.host_hash / shards) % static_cast<std::uint64_t>(size_) ==
              static_cast<std::uint64_t>(rank_) &&
          !prior_.is_done(l.file_row)) {
        index = l.file_row;
        url = std::move(l.url);
        return true;
      }
    }
    return false;
  };
  const auto on_result = [&](std::size_t row, const UrlResult& r) {
    const std::lock_guard lock(mutex_);
    record(row, r.verdict, r.attempts == 0 && r.error.rfind("invalid URL", 0) == 0,
           r.error == "interrupted");
    if (!writer_) return;
    writer_->add(row, r);
    const auto now = std::chrono::steady_clock::now();
    if (writer_->pending() >= kFlushRows ||
        std::chrono::duration<double>(now - last_flush_).count() >= kFlushSeconds) {
      writer_->flush();
      last_flush_ = now;
    }
  };
  const auto on_repeat = [&](std::size_t row, std::size_t first_row) {
    const std::lock_guard lock(mutex_);
    repeats_.emplace_back(row, first_row);
  };
  checker_.check_stream(mine, on_result, on_repeat, channel.stop_flag(),
                        [&](std::string_view url) { return list_.repeats->may_repeat(url); });
  copy_repeats();
}

/// A URL named again after its check finished takes the result already recorded for it.
void UrlStage::copy_repeats() {
  if (repeats_.empty()) return;
  if (writer_) {
    const detail::UrlColumns copies = writer_->copy_rows(repeats_);
    for (std::size_t i = 0; i < repeats_.size(); ++i) {
      const std::string error = copies.error(i);
      record(repeats_[i].first, static_cast<Verdict>(copies.verdicts[i]),
             detail::url_row_invalid(copies.verdicts[i], copies.attempts[i], error),
             error == "interrupted");
    }
    return;
  }
  std::sort(verdicts_.begin(), verdicts_.end());
  for (const auto& [row, first_row] : repeats_) {
    const auto it = std::lower_bound(verdicts_.begin(), verdicts_.end(),
                                     std::pair<std::uint64_t, std::int8_t>(first_row, -1));
    record(row, static_cast<Verdict>(it->second), false, false);
  }
}

void UrlStage::reduce(MPI_Comm comm, const Ending& ending) {
  if (writer_) writer_->close();
  UrlTally mine = tally_;
  if (rank_ == 0) mine += prior_.tally;
  const UrlTally all = mine.reduce(comm);
  report_.urls = list_.shard_urls;
  report_.exists = all.exists;
  report_.does_not_exist = all.does_not_exist;
  report_.unknown = all.unknown;
  report_.invalid = all.invalid;
  report_.ranks = size_;
  report_.threads = checker_.options().threads;
  report_.checked = all.checked();
  report_.resumed = prior_done_;
  report_.wall_seconds = all_max(
      comm, std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start_).count());
  report_.interrupted = ending.interrupted != 0 || any_rank(comm, channel_->stopping());
  if (job_.print) print_verdicts(comm);
}

/// Gathers (row, verdict) on rank 0 and prints "URL - verdict" in input order.
void UrlStage::print_verdicts(MPI_Comm comm) {
  std::string mine;
  for (const auto& [row, v] : verdicts_) {
    mine.append(reinterpret_cast<const char*>(&row), sizeof row);
    mine.push_back(static_cast<char>(v));
  }
  const std::string all = mpi::gather_bytes(comm, mine, 0);
  if (rank_ != 0) return;
  // Rows an earlier run finished (--resume) print from the file's verdicts.
  std::vector<std::int8_t> by_row = prior_.verdicts.empty()
                                        ? std::vector<std::int8_t>(file_rows(), -1)
                                        : std::move(prior_.verdicts);
  constexpr std::size_t kRecord = sizeof(std::uint64_t) + 1;
  for (std::size_t at = 0; at + kRecord <= all.size(); at += kRecord) {
    std::uint64_t row = 0;
    std::memcpy(&row, all.data() + at, sizeof row);
    by_row[row] = static_cast<std::int8_t>(all[at + sizeof row]);
  }
  ShardLines lines = shard_lines();
  ShardLine l;
  while (lines.next(l)) {
    const std::int8_t v = by_row[l.file_row];
    if (v < 0) continue;  // interrupted before it was checked
    std::cout << l.url << " - " << to_string(static_cast<Verdict>(v)) << "\n";
  }
  std::cout.flush();
}

void UrlStage::finalize() {
  h5::File file = h5::File::open(job_.output, h5::Access::ReadWrite);
  h5::Group g = file.group("urls");
  write_attrs(g.get(), {{"timeout", job_.options.timeout},  // the last run's (--resume)
                        {"threads", std::int64_t{checker_.options().threads}},
                        {"threads_requested", std::int64_t{checker_.requested_threads()}},
                        {"retries", std::int64_t{job_.options.retries}},
                        {"per_host", std::int64_t{job_.options.per_host}},
                        {"wall_seconds", report_.wall_seconds},
                        {"urls_per_second", report_.urls_per_second()},
                        {"exists", static_cast<std::int64_t>(report_.exists)},
                        {"does_not_exist", static_cast<std::int64_t>(report_.does_not_exist)},
                        {"unknown", static_cast<std::int64_t>(report_.unknown)},
                        {"invalid", static_cast<std::int64_t>(report_.invalid)},
                        {"checked", static_cast<std::int64_t>(report_.checked)},
                        {"report", report_.line()}});
  g.reset();
  file.close("close " + job_.output);
}

}  // namespace

UrlListPart split_url_list(const std::string& input, std::uint64_t parts, const std::string& dir) {
  if (parts == 0) throw UsageError("urls", input, "cut into 0 parts");
  constexpr std::uint64_t kOpenAtOnce = 200;  // 2 files a part: far below 1,024 descriptors
  UrlListPart whole;
  whole.list = input;
  whole.count = static_cast<int>(parts);
  for (std::uint64_t first = 0; first < parts; first += kOpenAtOnce) {
    const std::uint64_t n = std::min(kOpenAtOnce, parts - first);
    std::vector<std::ofstream> urls(n), rows(n);
    for (std::uint64_t k = 0; k < n; ++k) {
      const std::string base = dir + "/part-" + std::to_string(first + k);
      urls[k].open(base + ".txt", std::ios::binary | std::ios::trunc);
      rows[k].open(base + ".rows", std::ios::binary | std::ios::trunc);
      if (!urls[k] || !rows[k]) {
        throw UsageError("urls", base, std::string("cannot write: ") + std::strerror(errno));
      }
    }
    detail::Fnv1a64 hash;
    whole.urls = 0;
    for_each_url(input, [&](std::uint64_t row, const std::string& url) {
      ++whole.urls;
      hash.add(url);  // as UrlStage::read_list: the list's identity
      hash.add("\n");
      const std::uint64_t part = host_hash(url_host(url)) % parts;
      if (part < first || part >= first + n) return;
      const auto r = static_cast<std::int64_t>(row);
      urls[part - first] << url << '\n';
      rows[part - first].write(reinterpret_cast<const char*>(&r), sizeof r);
    });
    whole.list_fnv = hash.hex();
    for (std::uint64_t k = 0; k < n; ++k) {
      urls[k].close();
      rows[k].close();
      if (!urls[k] || !rows[k]) {
        throw UsageError("urls", dir + "/part-" + std::to_string(first + k),
                         "write failed (disk full?)");
      }
    }
  }
  return whole;
}

UrlReport run_urls(const UrlJob& job, MPI_Comm comm) {
  UrlStage stage(job);
  Engine(comm, engine_options(job)).run(stage);
  return stage.report();
}

}  // namespace pmap
