// pmap — the /urls group on disk (see url_file.hpp).
#include "url_file.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "pmap/error.hpp"

namespace pmap::detail {

namespace {

void append_fixed(std::string& buf, std::string_view s, std::size_t len) {
  const std::size_t n = std::min(s.size(), len);
  buf.append(s.data(), n);
  buf.append(len - n, '\0');
}

/// Appends element i of `from` (fixed length from_len) as a fixed-length `len` string: cut or
/// NUL-padded, so columns of different widths (shards of one list) copy into each other.
void append_slice(std::string& to, const std::string& from, std::size_t i, std::size_t from_len,
                  std::size_t len) {
  const std::size_t keep = std::min(from_len, len);
  to.append(from, i * from_len, keep);
  to.append(len - keep, '\0');
}

std::string_view unpadded(std::string_view s) {
  const auto end = s.find('\0');
  return end == std::string_view::npos ? s : s.substr(0, end);
}

}  // namespace

namespace {
/// Bytes of a string column's cells: url and final_url as given, error fixed.
std::size_t text_bytes(std::size_t column, std::size_t url_len, std::size_t final_len) {
  switch (static_cast<UrlColumn>(column)) {
    case UrlColumn::Url:
      return url_len;
    case UrlColumn::Error:
      return kUrlErrorLen;
    case UrlColumn::FinalUrl:
      return final_len;
    default:
      return 0;
  }
}
}  // namespace

void create_urls_group(hid_t file, std::uint64_t rows, std::size_t url_len, std::size_t final_len,
                       const Attrs& attrs, bool list_rows) {
  const h5::Group g = h5::Group::create(file, "urls");
  write_attrs(g.get(), attrs);
  for (std::size_t i = 0; i < kUrlColumns.size(); ++i) {
    create_column(g.get(), kUrlColumns[i], rows, 0, text_bytes(i, url_len, final_len));
  }
  if (list_rows) create_column(g.get(), kUrlListRowColumn, rows, 0);
}

void UrlColumns::clear() {
  each_column([](auto& column, std::size_t) { column.clear(); });
}

void UrlColumns::reserve(std::size_t n) {
  each_column([n](auto& column, std::size_t width) { column.reserve(n * width); });
}

void UrlColumns::resize(std::size_t n) {
  each_column([n](auto& column, std::size_t width) { column.resize(n * width); });
}

void UrlColumns::add(std::uint64_t row, const UrlResult& r) {
  rows.push_back(row);
  append_fixed(urls, r.url, url_len);
  status.push_back(r.http_status);
  append_fixed(errors, r.error, kUrlErrorLen);
  seconds.push_back(r.seconds);
  attempts.push_back(r.attempts);
  append_fixed(finals, r.final_url, final_len);
  verdicts.push_back(static_cast<std::int8_t>(r.verdict));
}

void UrlColumns::add_from(const UrlColumns& o, std::size_t i) {
  rows.push_back(i < o.rows.size() ? o.rows[i] : 0);
  append_slice(urls, o.urls, i, o.url_len, url_len);
  status.push_back(o.status[i]);
  append_slice(errors, o.errors, i, kUrlErrorLen, kUrlErrorLen);
  seconds.push_back(o.seconds[i]);
  attempts.push_back(o.attempts[i]);
  append_slice(finals, o.finals, i, o.final_len, final_len);
  verdicts.push_back(o.verdicts[i]);
}

std::string UrlColumns::error(std::size_t i) const {
  return std::string(unpadded(std::string_view(errors).substr(i * kUrlErrorLen, kUrlErrorLen)));
}

std::array<void*, kUrlColumnCount> UrlColumns::data() {
  return {urls.data(),     status.data(), errors.data(),  seconds.data(),
          attempts.data(), finals.data(), verdicts.data()};
}

bool url_row_done(std::int8_t verdict, std::string_view error) {
  return verdict >= 0 && unpadded(error) != "interrupted";
}

bool url_row_invalid(std::int8_t verdict, std::int32_t attempts, std::string_view error) {
  return verdict == static_cast<std::int8_t>(Verdict::Unknown) && attempts == 0 &&
         unpadded(error).starts_with("invalid URL");
}

UrlDatasets::UrlDatasets(hid_t file) {
  const h5::Group g = h5::Group::open(file, "urls");
  rows_ = h5::Dataset::open(g.get(), "verdict").dims().at(0);
  std::array<std::size_t, kUrlColumnCount> bytes{};
  for (std::size_t i = 0; i < kUrlColumns.size(); ++i) {
    const std::size_t want = static_cast<UrlColumn>(i) == UrlColumn::Error ? kUrlErrorLen : 0;
    dsets_[i] = open_column(g.get(), kUrlColumns[i], rows_, want, &bytes[i]);
    types_[i] = memory_type(kUrlColumns[i].cell, bytes[i]);
  }
  url_len_ = bytes[static_cast<std::size_t>(UrlColumn::Url)];
  final_len_ = bytes[static_cast<std::size_t>(UrlColumn::FinalUrl)];
  has_list_rows_ = g.has(kUrlListRowColumn.name);
  if (has_list_rows_) list_rows_ = open_column(g.get(), kUrlListRowColumn, rows_, 0);
}

void UrlDatasets::read_list_rows(std::vector<std::int64_t>& out, std::uint64_t first,
                                 std::uint64_t count) {
  out.resize(count);
  if (!has_list_rows_) {
    for (std::uint64_t i = 0; i < count; ++i) out[i] = static_cast<std::int64_t>(first + i);
    return;
  }
  if (count > 0) list_rows_.read(H5T_NATIVE_INT64, first, count, 0, out.data());
}

void UrlDatasets::write_list_rows(const std::vector<std::int64_t>& rows, std::uint64_t first) {
  if (!has_list_rows_) throw RuntimeError("write /urls/row: the file has a row for every URL");
  if (!rows.empty()) list_rows_.write(H5T_NATIVE_INT64, first, rows.size(), 0, rows.data());
}

void UrlDatasets::read(UrlColumns& c, std::uint64_t first, std::uint64_t count, unsigned mask) {
  c.url_len = url_len_;
  c.final_len = final_len_;
  c.resize(count);
  const auto data = c.data();
  for (std::size_t d = 0; d < dsets_.size(); ++d) {
    if ((mask & (1U << d)) != 0) dsets_[d].read(mem_type(d), first, count, 0, data[d]);
  }
}

void UrlDatasets::write(UrlColumns& c, std::uint64_t first) {
  const auto data = c.data();
  for (std::size_t d = 0; d < dsets_.size(); ++d) {
    dsets_[d].write(mem_type(d), first, c.size(), 0, data[d]);
  }
}

void UrlDatasets::transfer_points(UrlColumns& c, const std::vector<hsize_t>& coords, bool write) {
  const auto data = c.data();
  for (std::size_t d = 0; d < dsets_.size(); ++d) {
    if (write) {
      dsets_[d].write_points(mem_type(d), coords, data[d]);
    } else {
      dsets_[d].read_points(mem_type(d), coords, data[d]);
    }
  }
}

void UrlDatasets::write_sorted(UrlColumns& c) {
  const std::size_t n = c.size();
  if (n == 0) return;
  struct Run {
    std::uint64_t first, stride, count;
  };
  std::vector<Run> runs;
  for (const std::uint64_t row : c.rows) {
    if (!runs.empty()) {
      Run& r = runs.back();
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
    runs.push_back({row, 1, 1});
  }
  // Scattered rows (many hosts sharded across ranks): one point selection instead.
  if (runs.size() > std::max<std::size_t>(8, n / 8)) {
    const std::vector<hsize_t> coords(c.rows.begin(), c.rows.end());
    transfer_points(c, coords, /*write=*/true);
    return;
  }
  const hsize_t count = n;
  h5::Handle mspace(H5Screate_simple(1, &count, nullptr), "memory space");
  const auto data = c.data();
  for (std::size_t d = 0; d < dsets_.size(); ++d) {
    h5::Handle fspace(H5Dget_space(dsets_[d].get()), "space");
    hsize_t offset = 0;
    for (const Run& run : runs) {
      const hsize_t file_start = run.first;
      const hsize_t stride = run.stride;
      const hsize_t len = run.count;
      h5::check(
          H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, &file_start, &stride, &len, nullptr),
          "select rows");
      h5::check(H5Sselect_hyperslab(mspace.get(), H5S_SELECT_SET, &offset, nullptr, &len, nullptr),
                "select buffer");
      h5::check(
          H5Dwrite(dsets_[d].get(), mem_type(d), mspace.get(), fspace.get(), H5P_DEFAULT, data[d]),
          std::string("write /urls/") + kUrlColumns[d].name);
      offset += len;
    }
  }
}

void UrlDatasets::close() {
  for (auto& d : dsets_) d.close("close /urls dataset");
  if (has_list_rows_) list_rows_.close("close /urls/row");
  for (auto& t : types_) t.reset();
}

}  // namespace pmap::detail
