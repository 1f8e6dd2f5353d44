// pmap — the /urls group on disk (see url_file.hpp).
#include "url_file.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "pmap/error.hpp"

namespace pmap::detail {

namespace {

h5::Handle fixed_string(std::size_t len) {
  h5::Handle t(H5Tcopy(H5T_C_S1), "string type");
  h5::check(H5Tset_size(t.get(), len), "string size");
  h5::check(H5Tset_strpad(t.get(), H5T_STR_NULLPAD), "string pad");
  h5::check(H5Tset_cset(t.get(), H5T_CSET_UTF8), "string charset");
  return t;
}

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

void create_urls_group(hid_t file, std::uint64_t rows, std::size_t url_len, std::size_t final_len,
                       const Attrs& attrs) {
  h5::Handle g(H5Gcreate2(file, "urls", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "create /urls");
  write_attrs(g.get(), attrs);
  const std::vector<hsize_t> n = {rows};
  h5::Handle verdict(H5Tenum_create(H5T_NATIVE_INT8), "enum type");
  const std::pair<const char*, std::int8_t> members[] = {
      {"exists", 0}, {"does_not_exist", 1}, {"unknown", 2}, {"not_checked", -1}};
  for (const auto& [name, v] : members) h5::check(H5Tenum_insert(verdict.get(), name, &v), "enum");
  const std::int8_t not_checked = -1;
  h5::create_dataset(g.get(), "url", fixed_string(url_len).get(), n);
  h5::create_dataset(g.get(), "http_status", H5T_STD_I32LE, n);
  h5::create_dataset(g.get(), "error", fixed_string(kUrlErrorLen).get(), n);
  h5::create_dataset(g.get(), "seconds", H5T_IEEE_F64LE, n);
  h5::create_dataset(g.get(), "attempts", H5T_STD_I32LE, n);
  h5::create_dataset(g.get(), "final_url", fixed_string(final_len).get(), n);
  h5::create_dataset(g.get(), "verdict", verdict.get(), n, &not_checked, verdict.get());
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
  for (const char* name : kUrlColumns) {
    const std::string path = std::string("/urls/") + name;
    dsets_.emplace_back(H5Dopen2(file, path.c_str(), H5P_DEFAULT), "open " + path);
    types_.emplace_back(H5Dget_type(dsets_.back().get()), "type of " + path);
  }
  h5::Handle space(H5Dget_space(dsets_[0].get()), "space");
  hsize_t n = 0;
  if (H5Sget_simple_extent_ndims(space.get()) != 1 ||
      H5Sget_simple_extent_dims(space.get(), &n, nullptr) != 1) {
    throw RuntimeError("/urls/url: not a one-dimensional dataset");
  }
  rows_ = n;
  url_len_ = H5Tget_size(types_[0].get());
  final_len_ = H5Tget_size(types_[5].get());
  if (url_len_ == 0 || final_len_ == 0 || H5Tget_size(types_[2].get()) != kUrlErrorLen) {
    throw RuntimeError("/urls: unexpected string sizes");
  }
}

hid_t UrlDatasets::mem_type(std::size_t d) const {
  if (d == 1 || d == 4) return H5T_NATIVE_INT32;
  if (d == 3) return H5T_NATIVE_DOUBLE;
  return types_[d].get();  // strings and the verdict enum as stored
}

void UrlDatasets::read(UrlColumns& c, std::uint64_t first, std::uint64_t count, unsigned mask) {
  c.url_len = url_len_;
  c.final_len = final_len_;
  c.resize(count);
  if (count == 0) return;
  const hsize_t start = first;
  const hsize_t n = count;
  h5::Handle mspace(H5Screate_simple(1, &n, nullptr), "memory space");
  const auto data = c.data();
  for (std::size_t d = 0; d < dsets_.size(); ++d) {
    if ((mask & (1U << d)) == 0) continue;
    h5::Handle fspace(H5Dget_space(dsets_[d].get()), "space");
    h5::check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, &start, nullptr, &n, nullptr),
              "select rows");
    h5::check(
        H5Dread(dsets_[d].get(), mem_type(d), mspace.get(), fspace.get(), H5P_DEFAULT, data[d]),
        std::string("read /urls/") + kUrlColumns[d]);
  }
}

void UrlDatasets::write(UrlColumns& c, std::uint64_t first) {
  const hsize_t n = c.size();
  if (n == 0) return;
  const hsize_t start = first;
  h5::Handle mspace(H5Screate_simple(1, &n, nullptr), "memory space");
  const auto data = c.data();
  for (std::size_t d = 0; d < dsets_.size(); ++d) {
    h5::Handle fspace(H5Dget_space(dsets_[d].get()), "space");
    h5::check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, &start, nullptr, &n, nullptr),
              "select rows");
    h5::check(
        H5Dwrite(dsets_[d].get(), mem_type(d), mspace.get(), fspace.get(), H5P_DEFAULT, data[d]),
        std::string("write /urls/") + kUrlColumns[d]);
  }
}

void UrlDatasets::transfer_points(UrlColumns& c, const std::vector<hsize_t>& coords, bool write) {
  const hsize_t count = coords.size();
  if (count == 0) return;
  h5::Handle mspace(H5Screate_simple(1, &count, nullptr), "memory space");
  const auto data = c.data();
  for (std::size_t d = 0; d < dsets_.size(); ++d) {
    h5::Handle fspace(H5Dget_space(dsets_[d].get()), "space");
    h5::check(H5Sselect_elements(fspace.get(), H5S_SELECT_SET, coords.size(), coords.data()),
              "select rows");
    if (write) {
      h5::check(
          H5Dwrite(dsets_[d].get(), mem_type(d), mspace.get(), fspace.get(), H5P_DEFAULT, data[d]),
          std::string("write /urls/") + kUrlColumns[d]);
    } else {
      h5::check(
          H5Dread(dsets_[d].get(), mem_type(d), mspace.get(), fspace.get(), H5P_DEFAULT, data[d]),
          std::string("read /urls/") + kUrlColumns[d]);
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
          std::string("write /urls/") + kUrlColumns[d]);
      offset += len;
    }
  }
}

void UrlDatasets::close() {
  for (auto& d : dsets_) d.close("close /urls dataset");
  types_.clear();
}

}  // namespace pmap::detail
