// pmap — the /urls group on disk: creating it, and reading and writing its rows (private; used
// by the URL stage, its --resume and `pmap merge`).
#pragma once

#include <hdf5.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pmap/columns.hpp"
#include "pmap/h5.hpp"
#include "pmap/results.hpp"
#include "pmap/url_check.hpp"

namespace pmap::detail {

inline constexpr std::size_t kUrlErrorLen = 256;     // fixed-length error strings (truncated)
inline constexpr std::size_t kUrlMinFinalLen = 512;  // final_url at least this long
inline constexpr std::size_t kUrlColumnCount = 7;
/// The datasets of /urls, in the order of UrlColumns::data(). Strings are fixed-length: url and
/// final_url as wide as the list needs, error kUrlErrorLen.
inline constexpr std::array<Column, kUrlColumnCount> kUrlColumns{{{"url", Cell::Text},
                                                                  {"http_status", Cell::Int32},
                                                                  {"error", Cell::Text},
                                                                  {"seconds", Cell::Float64},
                                                                  {"attempts", Cell::Int32},
                                                                  {"final_url", Cell::Text},
                                                                  {"verdict", Cell::Verdict, false,
                                                                   true}}};
/// Indexes into kUrlColumns.
enum class UrlColumn : std::size_t { Url, HttpStatus, Error, Seconds, Attempts, FinalUrl, Verdict };
/// Column masks for UrlDatasets::read (bit i: kUrlColumns[i]).
inline constexpr unsigned kAllUrlColumns = (1U << kUrlColumnCount) - 1;
inline constexpr unsigned kUrlDoneColumns =
    (1U << 2) | (1U << 4) | (1U << 6);  // error, attempts, verdict

/// /urls/row of a file that holds only its shard's URLs: each row's line number in the list
/// (rows numbered as in a file of the whole list). A file without it has a row for every URL.
inline constexpr Column kUrlListRowColumn{"row", Cell::Int64};

/// Serial: creates /urls in an open file, every dataset allocated, verdict filled with -1; with
/// `list_rows`, also /urls/row (the file then holds only some URLs of the list).
void create_urls_group(hid_t file, std::uint64_t rows, std::size_t url_len, std::size_t final_len,
                       const Attrs& attrs, bool list_rows = false);

/// The columns of some rows, in memory (fixed-length strings packed end to end).
struct UrlColumns {
  std::size_t url_len = 1, final_len = kUrlMinFinalLen;
  std::vector<std::uint64_t> rows;  ///< row numbers, when the rows are scattered
  std::string urls, errors, finals;
  std::vector<std::int32_t> status, attempts;
  std::vector<double> seconds;
  std::vector<std::int8_t> verdicts;

  [[nodiscard]] std::size_t size() const { return verdicts.size(); }
  void clear();                                     ///< keeps the capacity
  void reserve(std::size_t n);                      ///< n rows
  void resize(std::size_t n);                       ///< n rows (rows included)
  void add(std::uint64_t row, const UrlResult& r);  ///< appends a row
  /// Appends row i of `other`, its strings cut or padded to this object's widths.
  void add_from(const UrlColumns& other, std::size_t i);
  [[nodiscard]] std::string error(std::size_t i) const;  ///< row i's error, without padding
  [[nodiscard]] std::array<void*, kUrlColumnCount> data();

 private:
  /// f(container, elements per row) for every column (rows included).
  template <typename F>
  void each_column(F&& f) {
    f(rows, 1);
    f(urls, url_len);
    f(errors, kUrlErrorLen);
    f(finals, final_len);
    f(status, 1);
    f(attempts, 1);
    f(seconds, 1);
    f(verdicts, 1);
  }
};

/// True if the row needs no check: checked, and not cut short by a stop ("interrupted").
bool url_row_done(std::int8_t verdict, std::string_view error);
/// True if the row holds an invalid line (no request was made).
bool url_row_invalid(std::int8_t verdict, std::int32_t attempts, std::string_view error);

/// The /urls datasets of an open file.
class UrlDatasets {
 public:
  /// Opens /urls' datasets of `file`, checking each against kUrlColumns (throws RuntimeError).
  explicit UrlDatasets(hid_t file);
  [[nodiscard]] std::uint64_t rows() const noexcept { return rows_; }
  [[nodiscard]] std::size_t url_len() const noexcept { return url_len_; }
  [[nodiscard]] std::size_t final_len() const noexcept { return final_len_; }
  /// True when the file holds only some URLs of the list, /urls/row saying which.
  [[nodiscard]] bool has_list_rows() const noexcept { return has_list_rows_; }
  /// /urls/row[first, first + count) into `out` (resized); the file's own rows without it.
  void read_list_rows(std::vector<std::int64_t>& out, std::uint64_t first, std::uint64_t count);
  /// `rows` to /urls/row[first, first + rows.size()).
  void write_list_rows(const std::vector<std::int64_t>& rows, std::uint64_t first);
  /// Rows [first, first + count) into c (resized), only the columns in `mask`.
  void read(UrlColumns& c, std::uint64_t first, std::uint64_t count,
            unsigned mask = kAllUrlColumns);
  /// c's rows to [first, first + c.size()).
  void write(UrlColumns& c, std::uint64_t first);
  /// c's rows to (write) or from (read) the rows at `coords`, in that order (point selection).
  void transfer_points(UrlColumns& c, const std::vector<hsize_t>& coords, bool write);
  /// c's rows, sorted by c.rows, to their rows; runs of rows in arithmetic progression are one
  /// hyperslab each (one pwrite per dataset for a consecutive run under MPI-IO).
  void write_sorted(UrlColumns& c);
  /// One column, opened and checked (for readers of a few columns).
  [[nodiscard]] const h5::Dataset& operator[](UrlColumn c) const {
    return dsets_[static_cast<std::size_t>(c)];
  }
  void close();

 private:
  [[nodiscard]] hid_t mem_type(std::size_t d) const { return types_[d].get(); }
  std::array<h5::Dataset, kUrlColumnCount> dsets_;
  std::array<h5::Handle, kUrlColumnCount> types_;
  h5::Dataset list_rows_;
  bool has_list_rows_ = false;
  std::uint64_t rows_ = 0;
  std::size_t url_len_ = 1, final_len_ = kUrlMinFinalLen;
};

}  // namespace pmap::detail
