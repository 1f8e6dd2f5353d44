// pmap — `pmap merge` for /urls (see url_merge.hpp).
#include "url_merge.hpp"

#include <algorithm>
#include <filesystem>

#include "pmap/error.hpp"
#include "pmap/h5.hpp"
#include "pmap/results.hpp"
#include "pmap/results_file.hpp"
#include "url_file.hpp"

namespace pmap::detail {

namespace {

std::string shard_name(const UrlShard& s) {
  return std::to_string(s.index) + "/" + std::to_string(s.count);
}

}  // namespace

UrlShard read_url_shard(const std::string& path) {
  const ResultsFile r = open_results_file(path, "merge:", "; give the shards of one job");
  if (!r.urls) throw UsageError("merge: " + path + ": no /urls stage");
  const h5::Group g = r.file.group("urls");
  const auto int_attr = [&](const char* name, std::int64_t fallback) {
    return h5::has_attr(g.get(), name) ? h5::read_attr_int(g.get(), name) : fallback;
  };
  const auto text_attr = [&](const char* name) {
    return h5::has_attr(g.get(), name) ? h5::read_attr_string(g.get(), name) : std::string();
  };
  UrlShard s;
  s.path = path;
  s.index = int_attr("shard_index", 0);
  s.count = int_attr("shard_count", 1);
  s.urls = int_attr("urls", -1);
  s.shard_urls = int_attr("shard_urls", -1);
  s.checked = int_attr("checked", -1);
  s.list_fnv = text_attr("list_fnv");
  s.method = text_attr("method");
  s.input = text_attr("input");
  for (const char* name : {"timeout", "wall_seconds"}) {
    if (h5::has_attr(g.get(), name))
      s.reals.emplace_back(name, h5::read_attr_double(g.get(), name));
  }
  for (const char* name : {"threads", "retries", "per_host"}) {
    if (h5::has_attr(g.get(), name)) s.ints.emplace_back(name, h5::read_attr_int(g.get(), name));
  }
  if (s.list_fnv.empty() || s.shard_urls < 0) {
    throw UsageError("merge: " + path +
                     ": /urls was written by an older pmap (no list_fnv/shard_urls); check the "
                     "list again with this version");
  }
  return s;
}

void check_url_shards(const std::vector<UrlShard>& shards) {
  const UrlShard& first = shards.front();
  for (const UrlShard& s : shards) {
    const auto differs = [&](const std::string& what, const std::string& a, const std::string& b) {
      if (a == b) return;
      throw UsageError("merge: " + s.path + ": not a shard of the same URL check as " + first.path +
                       " (" + what + ": " + a + " vs " + b + ")");
    };
    differs("URLs in the list", std::to_string(s.urls), std::to_string(first.urls));
    differs("list fingerprint", s.list_fnv, first.list_fnv);
    differs("method", s.method, first.method);
    differs("shard count", std::to_string(s.count), std::to_string(first.count));
    const std::string finish =
        "; finish it with `pmap urls ... --shard " + shard_name(s) + " --resume`";
    if (s.checked < 0) {
      throw UsageError("merge: " + s.path + " (URL shard " + shard_name(s) +
                       ") was never finished (killed before its end?)" + finish);
    }
    if (s.checked < s.shard_urls) {
      throw UsageError("merge: " + s.path + " (URL shard " + shard_name(s) + ") has " +
                       std::to_string(s.checked) + " of its " + std::to_string(s.shard_urls) +
                       " URLs checked" + finish);
    }
  }
}

namespace {

/// The merged /urls attributes: the first shard's settings, the wall time of the slowest shard
/// (array tasks run at once).
Attrs merged_url_attrs(const std::vector<UrlShard>& shards, const std::string& command) {
  const UrlShard& first = shards.front();
  Attrs attrs = {{"input", first.input},
                 {"method", first.method},
                 {"urls", first.urls},
                 {"list_fnv", first.list_fnv},
                 {"shard_index", std::int64_t{0}},
                 {"shard_count", std::int64_t{1}},
                 {"shard_urls", first.urls},
                 {"merged_from", static_cast<std::int64_t>(shards.size())},
                 {"command", command}};
  for (const auto& [name, value] : first.ints) attrs.emplace_back(name, value);
  double wall = 0;
  for (const UrlShard& s : shards) {
    for (const auto& [name, value] : s.reals) {
      if (name == "wall_seconds") wall = std::max(wall, value);
    }
  }
  for (const auto& [name, value] : first.reals) {
    if (name != "wall_seconds") attrs.emplace_back(name, value);
  }
  attrs.emplace_back("wall_seconds", wall);
  attrs.emplace_back("urls_per_second", wall > 0 ? static_cast<double>(first.urls) / wall : 0.0);
  return attrs;
}

/// The rows of the list the shards checked, a bit each: every row once, none twice.
class RowsSeen {
 public:
  explicit RowsSeen(std::uint64_t rows) : bits_((rows + 7) / 8, 0), rows_(rows) {}
  /// Marks `row`; false when it was marked already (or is not a row of the list).
  bool mark(std::int64_t row) {
    if (row < 0 || static_cast<std::uint64_t>(row) >= rows_) return false;
    const auto r = static_cast<std::uint64_t>(row);
    const auto bit = static_cast<std::uint8_t>(1U << (r % 8));
    if ((bits_[r / 8] & bit) != 0) return false;
    bits_[r / 8] = static_cast<std::uint8_t>(bits_[r / 8] | bit);
    return true;
  }
  /// The first row not marked, or rows() when every row is.
  [[nodiscard]] std::uint64_t first_missing() const {
    for (std::uint64_t r = 0; r < rows_; ++r) {
      if ((bits_[r / 8] >> (r % 8) & 1U) == 0) return r;
    }
    return rows_;
  }

 private:
  std::vector<std::uint8_t> bits_;
  std::uint64_t rows_;
};

/// True if shard file `in` checked list row `row` (the error path of an overlap).
bool checked_row(UrlDatasets& in, std::int64_t row) {
  UrlColumns c;
  std::vector<std::int64_t> rows;
  constexpr std::uint64_t kBlock = 16384;
  for (std::uint64_t first = 0; first < in.rows(); first += kBlock) {
    const std::uint64_t n = std::min(kBlock, in.rows() - first);
    in.read_list_rows(rows, first, n);
    const auto it = std::find(rows.begin(), rows.end(), row);
    if (it == rows.end()) continue;
    in.read(c, first + static_cast<std::uint64_t>(it - rows.begin()), 1, 1U << 6);
    return c.verdicts[0] >= 0;
  }
  return false;
}

/// Copies the rows shard k checked (all of a file of its shard's URLs; those with a verdict of a
/// file of the whole list) to their rows in `out`, counting the verdicts; UsageError for a row
/// another shard checked too, or a row outside the list.
void copy_shard_rows(std::vector<UrlDatasets>& in, std::size_t k, UrlDatasets& out, RowsSeen& seen,
                     const std::vector<UrlShard>& shards, UrlTally& totals) {
  constexpr std::uint64_t kBlock = 4096;
  UrlDatasets& src = in[k];
  UrlColumns block, merged;
  merged.url_len = out.url_len();
  merged.final_len = out.final_len();
  std::vector<std::int64_t> list_rows;
  for (std::uint64_t first = 0; first < src.rows(); first += kBlock) {
    const std::uint64_t n = std::min(kBlock, src.rows() - first);
    src.read(block, first, n);
    src.read_list_rows(list_rows, first, n);
    merged.clear();
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::int8_t v = block.verdicts[i];
      if (v < 0 && !src.has_list_rows()) continue;  // another shard's row
      const std::int64_t row = list_rows[i];
      if (v < 0 || !seen.mark(row)) {
        std::string other = "another shard";
        for (std::size_t j = 0; j < k; ++j) {
          if (v >= 0 && checked_row(in[j], row)) other = shards[j].path;
        }
        throw UsageError("merge: " + shards[k].path + ": row " + std::to_string(row) +
                         (v < 0 ? " of its shard was never checked"
                                : " of the URL list was checked by both " + other + " and " +
                                      shards[k].path + ": the URL shards overlap"));
      }
      merged.add_from(block, i);  // a shard's string columns may be narrower: padded
      merged.rows.back() = static_cast<std::uint64_t>(row);
      const std::string_view error =
          std::string_view(block.errors).substr(i * kUrlErrorLen, kUrlErrorLen);
      totals.count(v, url_row_invalid(v, block.attempts[i], error));
    }
    out.write_sorted(merged);
  }
}

}  // namespace

UrlTally merge_url_rows(hid_t dst, const std::vector<UrlShard>& shards,
                        const std::string& command) {
  std::vector<h5::File> files;
  std::vector<UrlDatasets> in;
  for (const UrlShard& s : shards) {
    files.push_back(h5::File::open(s.path, h5::Access::ReadOnly));
    in.emplace_back(files.back().get());
  }
  const auto rows = static_cast<std::uint64_t>(shards.front().urls);
  std::size_t url_len = 1, final_len = kUrlMinFinalLen;
  for (std::size_t k = 0; k < in.size(); ++k) {
    const auto want =
        static_cast<std::uint64_t>(in[k].has_list_rows() ? shards[k].shard_urls : shards[k].urls);
    if (in[k].rows() != want) {
      throw UsageError("merge: " + shards[k].path + ": /urls has " + std::to_string(in[k].rows()) +
                       " rows, its attributes say " + std::to_string(want));
    }
    url_len = std::max(url_len, in[k].url_len());
    final_len = std::max(final_len, in[k].final_len());
  }
  create_urls_group(dst, rows, url_len, final_len, merged_url_attrs(shards, command));
  UrlDatasets out(dst);
  UrlTally totals;
  RowsSeen seen(rows);
  for (std::size_t k = 0; k < in.size(); ++k) copy_shard_rows(in, k, out, seen, shards, totals);
  if (const std::uint64_t missing = seen.first_missing(); missing < rows) {
    throw UsageError("merge: row " + std::to_string(missing) +
                     " of the URL list was checked by no shard: a shard is missing rows");
  }
  out.close();
  for (auto& d : in) d.close();
  const h5::Group g = h5::Group::open(dst, "urls");
  write_attrs(g.get(), {{"exists", static_cast<std::int64_t>(totals.exists)},
                        {"does_not_exist", static_cast<std::int64_t>(totals.does_not_exist)},
                        {"unknown", static_cast<std::int64_t>(totals.unknown)},
                        {"invalid", static_cast<std::int64_t>(totals.invalid)},
                        {"checked", static_cast<std::int64_t>(rows)}});
  return totals;
}

}  // namespace pmap::detail
