#include "pmap/url_stage.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "detail/repeat_filter.hpp"
#include "detail/text.hpp"
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

constexpr std::size_t kErrorLen = 256;     // fixed-length error strings (truncated)
constexpr std::size_t kMinFinalLen = 512;  // final_url at least this long (truncated beyond)
constexpr std::size_t kFlushRows = 4096;   // results buffered per rank before a write
constexpr double kFlushSeconds = 0.5;      // ... or this often

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

/// Serial: creates /urls in `path` with every dataset allocated (verdict filled with -1).
void create_urls_group(const std::string& path, bool create_file, bool overwrite,
                       std::uint64_t rows, std::size_t url_len, std::size_t final_len,
                       const Attrs& root, const Attrs& attrs) {
  h5::silence_errors();
  h5::Handle file;
  if (create_file) {
    file = h5::Handle(
        H5Fcreate(path.c_str(), overwrite ? H5F_ACC_TRUNC : H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT),
        "create " + path);
    write_attrs(file.get(), root);
  } else {
    file = h5::Handle(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), "open " + path);
    if (H5Lexists(file.get(), "urls", H5P_DEFAULT) > 0) {
      h5::check(H5Ldelete(file.get(), "urls", H5P_DEFAULT), "replace /urls");
    }
  }
  h5::Handle g(H5Gcreate2(file.get(), "urls", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
               "create /urls");
  write_attrs(g.get(), attrs);
  const hsize_t n = rows;
  h5::Handle space(H5Screate_simple(1, &n, nullptr), "urls space");
  const auto make = [&](const char* name, hid_t type, const void* fill, hid_t fill_type) {
    h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), "dcpl");
    h5::check(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), "layout");
    h5::check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), "alloc time");
    if (fill != nullptr) {
      h5::check(H5Pset_fill_value(dcpl.get(), fill_type, fill), "fill value");
      h5::check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_ALLOC), "fill time");
    } else {
      h5::check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "fill time");
    }
    h5::Handle d(H5Dcreate2(g.get(), name, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                 std::string("create /urls/") + name);
  };
  const auto fixed_string = [](std::size_t len) {
    h5::Handle t(H5Tcopy(H5T_C_S1), "string type");
    h5::check(H5Tset_size(t.get(), len), "string size");
    h5::check(H5Tset_strpad(t.get(), H5T_STR_NULLPAD), "string pad");
    h5::check(H5Tset_cset(t.get(), H5T_CSET_UTF8), "string charset");
    return t;
  };
  h5::Handle verdict(H5Tenum_create(H5T_NATIVE_INT8), "enum type");
  const std::pair<const char*, std::int8_t> members[] = {
      {"exists", 0}, {"does_not_exist", 1}, {"unknown", 2}, {"not_checked", -1}};
  for (const auto& [name, v] : members) h5::check(H5Tenum_insert(verdict.get(), name, &v), "enum");
  const std::int8_t not_checked = -1;
  make("url", fixed_string(url_len).get(), nullptr, 0);
  make("http_status", H5T_STD_I32LE, nullptr, 0);
  make("error", fixed_string(kErrorLen).get(), nullptr, 0);
  make("seconds", H5T_IEEE_F64LE, nullptr, 0);
  make("attempts", H5T_STD_I32LE, nullptr, 0);
  make("final_url", fixed_string(final_len).get(), nullptr, 0);
  make("verdict", verdict.get(), &not_checked, verdict.get());
  g.reset();
  h5::check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "flush");
  file.close("close " + path);
}

/// The /urls columns of some rows, in memory (fixed-length strings packed end to end).
struct UrlColumns {
  std::vector<std::uint64_t> rows;
  std::string urls, errors, finals;
  std::vector<std::int32_t> status, attempts;
  std::vector<double> seconds;
  std::vector<std::int8_t> verdicts;

  void clear() {  // keeps the capacity: the same buffers serve every flush
    rows.clear();
    urls.clear();
    errors.clear();
    finals.clear();
    status.clear();
    attempts.clear();
    seconds.clear();
    verdicts.clear();
  }
  void reserve(std::size_t n, std::size_t url_len, std::size_t final_len) {
    rows.reserve(n);
    urls.reserve(n * url_len);
    errors.reserve(n * kErrorLen);
    finals.reserve(n * final_len);
    status.reserve(n);
    attempts.reserve(n);
    seconds.reserve(n);
    verdicts.reserve(n);
  }
  void resize(std::size_t n, std::size_t url_len, std::size_t final_len) {
    rows.resize(n);
    urls.resize(n * url_len);
    errors.resize(n * kErrorLen);
    finals.resize(n * final_len);
    status.resize(n);
    attempts.resize(n);
    seconds.resize(n);
    verdicts.resize(n);
  }
  /// Buffers in the order of UrlRowWriter's datasets.
  [[nodiscard]] std::array<void*, 7> data() {
    return {urls.data(),     status.data(), errors.data(),  seconds.data(),
            attempts.data(), finals.data(), verdicts.data()};
  }
};

/// Writes one rank's rows of /urls: buffered as they finish (scattered by host, in completion
/// order), written in sorted runs at each flush.
class UrlRowWriter {
 public:
  UrlRowWriter(const std::string& path, MPI_Comm comm, std::size_t url_len, std::size_t final_len)
      : url_len_(url_len), final_len_(final_len) {
    h5::Handle fapl(H5Pcreate(H5P_FILE_ACCESS), "fapl");
    h5::check(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL), "set MPI-IO driver");
    file_ = h5::Handle(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get()), "open " + path);
    for (const char* name :
         {"url", "http_status", "error", "seconds", "attempts", "final_url", "verdict"}) {
      dsets_.emplace_back(
          H5Dopen2(file_.get(), (std::string("/urls/") + name).c_str(), H5P_DEFAULT),
          std::string("open /urls/") + name);
      h5::Handle type(H5Dget_type(dsets_.back().get()), "type");
      mem_types_.push_back(std::move(type));
    }
    // Allocated once, in the thread that creates the writer: flushes run in whichever worker
    // thread finishes a URL, and fresh megabyte buffers there would settle in glibc's per-thread
    // arenas (measured: +375 bytes of peak memory a URL at 100,000 URLs).
    pending_.reserve(kFlushRows, url_len_, final_len_);
    sorted_.reserve(kFlushRows, url_len_, final_len_);
  }

  void add(std::uint64_t row, const UrlResult& r) {
    pending_.rows.push_back(row);
    append_fixed(pending_.urls, r.url, url_len_);
    pending_.status.push_back(r.http_status);
    append_fixed(pending_.errors, r.error, kErrorLen);
    pending_.seconds.push_back(r.seconds);
    pending_.attempts.push_back(r.attempts);
    append_fixed(pending_.finals, r.final_url, final_len_);
    pending_.verdicts.push_back(static_cast<std::int8_t>(r.verdict));
  }
  [[nodiscard]] std::size_t pending() const { return pending_.rows.size(); }

  void flush() {
    const std::size_t n = pending_.rows.size();
    if (n == 0) return;
    // Rows arrive in completion order. Sorted, most of them form runs, each written with one
    // hyperslab: a run of consecutive rows is one pwrite per dataset (a point selection costs
    // one pwrite per row and dataset under independent MPI-IO: 6 system calls a URL). Strided
    // runs (hosts alternating between ranks) still cost a pwrite per row, but one HDF5 call;
    // scattered rows (many hosts sharded across ranks) fall back to one point selection.
    order_.resize(n);
    for (std::size_t i = 0; i < n; ++i) order_[i] = i;
    std::sort(order_.begin(), order_.end(),
              [&](std::size_t a, std::size_t b) { return pending_.rows[a] < pending_.rows[b]; });
    sorted_.clear();
    for (const std::size_t i : order_) {
      sorted_.rows.push_back(pending_.rows[i]);
      sorted_.urls.append(pending_.urls, i * url_len_, url_len_);
      sorted_.status.push_back(pending_.status[i]);
      sorted_.errors.append(pending_.errors, i * kErrorLen, kErrorLen);
      sorted_.seconds.push_back(pending_.seconds[i]);
      sorted_.attempts.push_back(pending_.attempts[i]);
      sorted_.finals.append(pending_.finals, i * final_len_, final_len_);
      sorted_.verdicts.push_back(pending_.verdicts[i]);
    }
    pending_.clear();
    write_sorted(sorted_);
  }

  /// Copies rows this rank has written (flushed first) to other rows: (to, from) pairs.
  /// Returns the verdict of each copied row.
  std::vector<std::int8_t> copy_rows(
      const std::vector<std::pair<std::uint64_t, std::uint64_t>>& to_from) {
    flush();
    std::vector<std::int8_t> verdicts;
    UrlColumns rows;
    std::vector<hsize_t> coords;
    for (std::size_t begin = 0; begin < to_from.size(); begin += kFlushRows) {
      const std::size_t n = std::min(kFlushRows, to_from.size() - begin);
      rows.resize(n, url_len_, final_len_);
      coords.clear();
      for (std::size_t i = 0; i < n; ++i) coords.push_back(to_from[begin + i].second);
      transfer(rows, coords, /*write=*/false);
      coords.clear();
      for (std::size_t i = 0; i < n; ++i) coords.push_back(to_from[begin + i].first);
      transfer(rows, coords, /*write=*/true);
      verdicts.insert(verdicts.end(), rows.verdicts.begin(), rows.verdicts.end());
    }
    return verdicts;
  }

  void close() {
    flush();
    for (auto& d : dsets_) d.close("close /urls dataset");
    file_.close("close results file");
  }

 private:
  /// Writes rows sorted by row number, in runs of rows in arithmetic progression.
  void write_sorted(UrlColumns& c) {
    const std::size_t n = c.rows.size();
    runs_.clear();
    for (const std::uint64_t row : c.rows) {
      if (!runs_.empty()) {
        Run& r = runs_.back();
        const std::uint64_t last = r.first + r.stride * (r.count - 1);
        if (r.count == 1 && row > last) {
          r.stride = row - last;
          ++r.count;
          continue;
        }
        if (row == last + r.stride) {
          ++r.count;
          continue;
        }
      }
      runs_.push_back({row, 1, 1});
    }
    if (runs_.size() > std::max<std::size_t>(8, n / 8)) {
      coords_.assign(c.rows.begin(), c.rows.end());
      transfer(c, coords_, /*write=*/true);
      return;
    }
    const hsize_t count = n;
    h5::Handle mspace(H5Screate_simple(1, &count, nullptr), "memory space");
    const auto data = c.data();
    for (std::size_t d = 0; d < dsets_.size(); ++d) {
      h5::Handle fspace(H5Dget_space(dsets_[d].get()), "space");
      hsize_t offset = 0;
      for (const Run& run : runs_) {
        const hsize_t file_start = run.first;
        const hsize_t stride = run.stride;
        const hsize_t len = run.count;
        h5::check(
            H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, &file_start, &stride, &len, nullptr),
            "select rows");
        h5::check(
            H5Sselect_hyperslab(mspace.get(), H5S_SELECT_SET, &offset, nullptr, &len, nullptr),
            "select buffer");
        h5::check(H5Dwrite(dsets_[d].get(), mem_type(d), mspace.get(), fspace.get(), H5P_DEFAULT,
                           data[d]),
                  "write /urls rows");
        offset += len;
      }
    }
  }

  /// Reads or writes the rows at `coords` (a point selection, in that order) from or to `c`.
  void transfer(UrlColumns& c, const std::vector<hsize_t>& coords, bool write) {
    const hsize_t count = coords.size();
    h5::Handle mspace(H5Screate_simple(1, &count, nullptr), "memory space");
    const auto data = c.data();
    for (std::size_t d = 0; d < dsets_.size(); ++d) {
      h5::Handle fspace(H5Dget_space(dsets_[d].get()), "space");
      h5::check(H5Sselect_elements(fspace.get(), H5S_SELECT_SET, coords.size(), coords.data()),
                "select rows");
      if (write) {
        h5::check(H5Dwrite(dsets_[d].get(), mem_type(d), mspace.get(), fspace.get(), H5P_DEFAULT,
                           data[d]),
                  "write /urls rows");
      } else {
        h5::check(
            H5Dread(dsets_[d].get(), mem_type(d), mspace.get(), fspace.get(), H5P_DEFAULT, data[d]),
            "read /urls rows");
      }
    }
  }

  [[nodiscard]] hid_t mem_type(std::size_t d) const {
    if (d == 1 || d == 4) return H5T_NATIVE_INT32;
    if (d == 3) return H5T_NATIVE_DOUBLE;
    return mem_types_[d].get();  // strings and the verdict enum as stored
  }
  static void append_fixed(std::string& buf, const std::string& s, std::size_t len) {
    const std::size_t n = std::min(s.size(), len);
    buf.append(s.data(), n);
    buf.append(len - n, '\0');
  }

  struct Run {
    std::uint64_t first, stride, count;
  };
  std::size_t url_len_, final_len_;
  h5::Handle file_;
  std::vector<h5::Handle> dsets_;
  std::vector<h5::Handle> mem_types_;
  UrlColumns pending_, sorted_;
  std::vector<std::size_t> order_;
  std::vector<Run> runs_;
  std::vector<hsize_t> coords_;
};

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
  if (write_file && !job.append) {
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

  // Every rank reads the list once to size the file; the checks stream it a second time, so
  // memory does not grow with the list.
  std::uint64_t total = 0, max_len = 1;
  std::string err;
  try {
    for_each_url(job.input, [&](std::uint64_t, const std::string& url) {
      ++total;
      max_len = std::max<std::uint64_t>(max_len, std::min<std::size_t>(url.size(), 8192));
    });
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
  const std::size_t final_len = std::max<std::size_t>(kMinFinalLen, url_len);

  std::string create_error;
  int create_code = 0;
  if (write_file && rank == 0) {
    try {
      Attrs root = {{"pmap_version", std::string(kVersion)},
                    {"schema_version", std::int64_t{1}},
                    {"created", iso8601_now()},
                    {"command", job.command},
                    {"mpi_ranks", std::int64_t{size}},
                    {"omp_threads", std::int64_t{1}}};
      Attrs attrs = {
          {"input", job.input},
          {"timeout", job.options.timeout},
          {"threads", std::int64_t{job.options.threads}},
          {"retries", std::int64_t{job.options.retries}},
          {"per_host", std::int64_t{job.options.per_host}},
          {"method", std::string(job.options.method == HttpMethod::Head ? "head" : "get")},
          {"urls", static_cast<std::int64_t>(total)}};
      create_urls_group(job.output, !job.append, job.force, total, url_len, final_len, root, attrs);
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

  std::unique_ptr<UrlRowWriter> writer;
  if (write_file) writer = std::make_unique<UrlRowWriter>(job.output, comm, url_len, final_len);

  // Progress across ranks reuses the dispatcher's reporting (no chunks are claimed).
  Dispatcher progress_channel(comm, {Schedule::Static, total, 1, size});
  std::unique_ptr<Progress> progress;
  if (rank == 0 && job.progress != ProgressMode::None) {
    progress = std::make_unique<Progress>(job.progress, "urls", total);
    const auto interval = progress->mode() == ProgressMode::Bar ? std::chrono::milliseconds(100)
                                                                : std::chrono::milliseconds(500);
    progress_channel.on_tick([p = progress.get()](std::uint64_t done) { p->update(done); },
                             interval);
  }

  std::uint64_t counts[5] = {0, 0, 0, 0, 0};  // exists, does not exist, unknown, invalid, done
  // (row, verdict) of this rank's rows, for --print (and for repeats when there is no file).
  std::vector<std::pair<std::uint64_t, std::int8_t>> verdicts;
  std::mutex m;
  auto last_flush = clock_type::now();
  // A stop anywhere stops every rank: the watcher forwards a local signal to rank 0 (which
  // tells every rank) and turns the job-wide stop into the flag the checker polls.
  std::atomic<bool> url_stop{false};
  std::atomic<bool> watching{true};
  std::thread watcher([&] {
    while (watching.load()) {
      if (stop_requested()) progress_channel.request_stop();
      if (progress_channel.stopping()) {
        url_stop = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  struct JoinWatcher {
    std::atomic<bool>& flag;
    std::thread& t;
    ~JoinWatcher() {
      flag = false;
      if (t.joinable()) t.join();
    }
  } join_watcher{watching, watcher};
  // URLs that may appear twice, found in one more pass, so only those are remembered.
  detail::RepeatFilter repeat_filter(total);
  for_each_url(job.input, [&](std::uint64_t, const std::string& url) { repeat_filter.add(url); });

  // This rank's URLs: those whose host hashes to it, so a host's per-host limit holds job-wide.
  UrlLines lines(job.input);
  const auto mine = [&](std::size_t& index, std::string& url) {
    std::uint64_t row = 0;
    while (lines.next(row, url)) {
      if (host_hash(url_host(url)) % static_cast<std::uint64_t>(size) ==
          static_cast<std::uint64_t>(rank)) {
        index = row;
        return true;
      }
    }
    return false;
  };
  const auto record = [&](std::uint64_t row, Verdict verdict, bool invalid) {
    ++counts[static_cast<int>(verdict)];
    if (invalid) ++counts[3];
    ++counts[4];
    if (!write_file || job.print) verdicts.emplace_back(row, static_cast<std::int8_t>(verdict));
    progress_channel.add_done(1);
  };
  std::vector<std::pair<std::uint64_t, std::uint64_t>> repeats;  // (row, first row of its URL)
  checker.check_stream(
      mine,
      [&](std::size_t row, const UrlResult& r) {
        std::lock_guard lock(m);
        record(row, r.verdict, r.attempts == 0 && r.error.rfind("invalid URL", 0) == 0);
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
      &url_stop, [&](std::string_view url) { return repeat_filter.may_repeat(url); });
  // A URL named again after its check finished takes the result already recorded for it.
  if (!repeats.empty()) {
    std::vector<std::int8_t> copied;
    if (writer) {
      copied = writer->copy_rows(repeats);
    } else {
      std::sort(verdicts.begin(), verdicts.end());
      for (const auto& [row, first_row] : repeats) {
        const auto it = std::lower_bound(verdicts.begin(), verdicts.end(),
                                         std::pair<std::uint64_t, std::int8_t>(first_row, -1));
        copied.push_back(it->second);
      }
    }
    for (std::size_t i = 0; i < repeats.size(); ++i) {
      record(repeats[i].first, static_cast<Verdict>(copied[i]), false);
    }
  }
  watching = false;
  if (watcher.joinable()) watcher.join();
  if (stop_requested()) progress_channel.request_stop();
  progress_channel.finish();
  if (writer) writer->close();
  if (progress) progress->finish(progress_channel.done_total());

  mpi::check(MPI_Allreduce(MPI_IN_PLACE, counts, 5, MPI_UINT64_T, MPI_SUM, comm), "MPI_Allreduce");
  double wall = std::chrono::duration<double>(clock_type::now() - t_start).count();
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &wall, 1, MPI_DOUBLE, MPI_MAX, comm), "MPI_Allreduce");
  UrlReport report;
  report.urls = total;
  report.exists = counts[0];
  report.does_not_exist = counts[1];
  report.unknown = counts[2];
  report.invalid = counts[3];
  report.ranks = size;
  report.threads = job.options.threads;
  report.wall_seconds = wall;
  int interrupted = url_stop.load() || stop_requested() ? 1 : 0;
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &interrupted, 1, MPI_INT, MPI_MAX, comm), "MPI_Allreduce");
  report.interrupted = interrupted != 0;

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
      std::vector<std::int8_t> by_row(total, -1);
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
    write_attrs(g.get(), {{"wall_seconds", wall},
                          {"urls_per_second", report.urls_per_second()},
                          {"exists", static_cast<std::int64_t>(report.exists)},
                          {"does_not_exist", static_cast<std::int64_t>(report.does_not_exist)},
                          {"unknown", static_cast<std::int64_t>(report.unknown)},
                          {"invalid", static_cast<std::int64_t>(report.invalid)},
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
