#include "pmap/merge.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include "detail/url_merge.hpp"
#include "pmap/columns.hpp"
#include "pmap/compute.hpp"
#include "pmap/error.hpp"
#include "pmap/h5.hpp"
#include "pmap/params.hpp"
#include "pmap/partition.hpp"
#include "pmap/report.hpp"
#include "pmap/results.hpp"
#include "pmap/results_file.hpp"
#include "pmap/resume.hpp"

namespace pmap {
namespace {

/// The identity of a shard, read from its /compute attributes.
struct ShardInfo {
  std::string path;
  std::vector<std::pair<std::string, std::string>> identity;  // in the order of kIdentity
  std::int64_t index = 0, count = 1, items = 0;
  std::vector<std::string> columns;
  Attrs carried;                  // schedule, chunk, space, range_* (copied to the merged file)
  std::vector<FieldSpec> fields;  // /compute/params
  std::vector<std::pair<std::string, std::string>> params;  // its attributes
};

/// What makes shards parts of one job: the /compute attributes compared, and how to name them.
constexpr std::pair<const char*, const char*> kIdentity[] = {{"kernel", "kernel"},
                                                             {"args", "kernel arguments"},
                                                             {"item_kind", "item source"},
                                                             {"items", "number of items"},
                                                             {"items_fnv", "items (fingerprint)"},
                                                             {"shard_count", "shard count"}};

constexpr const char* kUse = "merge:";
constexpr const char* kHint = "; give the shards of one job";

ShardInfo read_shard(const std::string& path) {
  return read_results(path, kUse, [&] {
    const ResultsFile r = open_results_file(path, kUse, kHint);
    if (!r.compute) throw UsageError("merge: " + path + ": no /compute stage" + std::string(kHint));
    const h5::Group g = r.file.group("compute");
    ShardInfo s;
    s.path = path;
    for (const auto& [key, label] : kIdentity) {
      s.identity.emplace_back(key, h5::attr_text(g.get(), key, 17));
    }
    s.index = h5::has_attr(g.get(), "shard_index") ? h5::read_attr_int(g.get(), "shard_index") : 0;
    s.count = h5::has_attr(g.get(), "shard_count") ? h5::read_attr_int(g.get(), "shard_count") : 1;
    s.items = h5::read_attr_int(g.get(), "items");
    s.columns = h5::read_attr_strings(g.get(), "columns");
    for (const char* key : {"schedule", "space", "item_kind", "kernel", "args", "items_fnv"}) {
      if (h5::has_attr(g.get(), key))
        s.carried.emplace_back(key, h5::read_attr_string(g.get(), key));
    }
    for (const char* key : {"chunk", "range_start", "range_stop", "range_step", "items"}) {
      if (h5::has_attr(g.get(), key)) s.carried.emplace_back(key, h5::read_attr_int(g.get(), key));
    }
    s.fields = ParamColumns(g.get(), static_cast<std::uint64_t>(s.items)).fields();
    if (!s.fields.empty()) {
      s.params = read_param_attributes(g.get());
    }
    return s;
  });
}

/// Copies rows [w.begin, w.end) of every /compute column from `src` to rows [w.begin + to -
/// w.begin,
/// ...) of `dst` (the same rows unless `to` says where they go), in blocks.
void copy_rows(const ComputeColumns& src, const ComputeColumns& dst, Chunk w,
               std::optional<std::uint64_t> to = std::nullopt) {
  const std::uint64_t at = to.value_or(w.begin);
  std::vector<char> buf;
  for (std::size_t i = 0; i < kComputeColumns.size(); ++i) {
    const Column& c = kComputeColumns[i];
    const auto column = static_cast<ComputeColumn>(i);
    const std::size_t width = c.per_value ? src.width() : 0;
    const h5::Handle mem = memory_type(c.cell);
    for (std::uint64_t b = w.begin; b < w.end; b += kMaxChunk) {
      const auto n = std::min<std::uint64_t>(kMaxChunk, w.end - b);
      buf.resize(n * std::max<std::size_t>(width, 1) * cell_bytes(c.cell));
      src[column].read(mem.get(), b, n, width, static_cast<void*>(buf.data()));
      dst[column].write(mem.get(), at + (b - w.begin), n, width, buf.data());
    }
  }
}

/// Copies rows [w.begin, w.end) of /compute/params from `src` to `dst`, in blocks.
void copy_params(const ParamColumns& src, ParamColumns& dst, Chunk w,
                 std::optional<std::uint64_t> to = std::nullopt) {
  if (src.fields().empty()) return;
  const std::uint64_t shift_to = to.value_or(w.begin);
  FieldBlock b;
  for (std::uint64_t at = w.begin; at < w.end; at += kMaxChunk) {
    const auto n = std::min<std::uint64_t>(kMaxChunk, w.end - at);
    src.read(at, n, b);
    dst.write(shift_to + (at - w.begin), n, b.values.data());
  }
}

/// The merged /compute's last step, for shards and elastic blocks alike: its rows counted from
/// the file itself (status, checksum) into `report` and the attributes, the errors in item order.
void finish_compute(const std::string& partial, std::uint64_t n, std::vector<ErrorRecord> errors,
                    MergeReport& report) {
  std::sort(errors.begin(), errors.end(),
            [](const ErrorRecord& a, const ErrorRecord& b) { return a.item < b.item; });
  const StatusTally t = scan_results(partial, Chunk{0, n}, kUse);
  report.items = n;
  report.ok = t.ok;
  report.failed = t.failed;
  report.timed_out = t.timed_out;
  report.checksum = t.checksum;
  char hex[20];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(t.checksum));
  finalize_results_file(partial, "compute",
                        {{"ok", static_cast<std::int64_t>(t.ok)},
                         {"failed", static_cast<std::int64_t>(t.failed)},
                         {"timed_out", static_cast<std::int64_t>(t.timed_out)},
                         {"not_run", std::int64_t{0}},
                         {"checksum", std::string(hex)}},
                        {}, errors);
}

/// Writes /compute of the merged file `partial` from the shards (checked already).
void merge_compute(const std::string& partial, const ComputeMeta& meta,
                   const std::vector<ShardInfo>& info, std::uint64_t n, MergeReport& report) {
  const ShardInfo& first = info.front();
  const auto count = first.count;
  create_results_file(partial, meta, true);
  std::vector<ErrorRecord> errors;
  {
    h5::File dst = h5::File::open(partial, h5::Access::ReadWrite);
    const h5::Group dst_group = dst.group("compute");
    ComputeColumns out(dst_group);
    ParamColumns out_params(dst_group.get(), n);
    for (const auto& s : info) {
      const Chunk w = block(n, static_cast<int>(count), static_cast<int>(s.index));
      const h5::File src = h5::File::open(s.path, h5::Access::ReadOnly);
      const h5::Group group = src.group("compute");
      copy_rows(ComputeColumns(group), out, w);
      copy_params(ParamColumns(group.get(), n), out_params, w);
      auto e = read_errors_table(group);
      errors.insert(errors.end(), e.begin(), e.end());
    }
    out.close();
    out_params.close();
    dst.close("close " + partial);
  }
  report.shards = static_cast<int>(count);
  finish_compute(partial, n, std::move(errors), report);
}

/// Which stages a shard file holds (a pmap results file is required).
struct Stages {
  bool compute = false, urls = false;
};

Stages probe(const std::string& path) {
  const ResultsFile r = open_results_file(path, kUse, kHint);
  if (!r.compute && !r.urls) {
    throw UsageError("merge: " + path + ": a pmap results file with neither /compute nor /urls" +
                     std::string(kHint));
  }
  return {r.compute, r.urls};
}

/// The shards given, read: which stages they hold, and each one's identity.
struct Shards {
  bool compute = false, urls = false;
  std::vector<ShardInfo> info;  ///< index and count from /compute (or /urls for a URL job)
  std::vector<detail::UrlShard> url_info;
};

/// Reads every shard; they must hold the same stages.
Shards read_shards(const std::vector<std::string>& paths) {
  if (paths.empty()) throw UsageError("merge: give the shard files to merge");
  std::vector<Stages> stages;
  for (const auto& p : paths) stages.push_back(probe(p));
  for (std::size_t i = 1; i < paths.size(); ++i) {
    const auto mismatch = [&](bool first_has, const char* group) {
      const std::string& with = first_has ? paths[0] : paths[i];
      const std::string& without = first_has ? paths[i] : paths[0];
      throw UsageError("merge: " + with + " has " + group + " but " + without +
                       " has not: not shards of one job");
    };
    if (stages[i].compute != stages[0].compute) mismatch(stages[0].compute, "/compute");
    if (stages[i].urls != stages[0].urls) mismatch(stages[0].urls, "/urls");
  }
  Shards all{stages[0].compute, stages[0].urls, {}, {}};
  for (const auto& p : paths) {
    if (all.urls) all.url_info.push_back(detail::read_url_shard(p));
    if (all.compute) {
      all.info.push_back(read_shard(p));
    } else {
      ShardInfo s;
      s.path = p;
      s.index = all.url_info.back().index;
      s.count = all.url_info.back().count;
      all.info.push_back(std::move(s));
    }
  }
  return all;
}

std::string shard_name(std::int64_t index, std::int64_t count) {
  return std::to_string(index) + "/" + std::to_string(count);
}

/// Every shard belongs to the first one's job, and its /urls and /compute are the same shard.
void check_same_job(const Shards& all) {
  const ShardInfo& first = all.info.front();
  for (const auto& s : all.info) {
    for (std::size_t i = 0; i < s.identity.size(); ++i) {
      if (s.identity[i].second != first.identity[i].second) {
        throw UsageError("merge: " + s.path + ": not a shard of the same job as " + first.path +
                         " (" + kIdentity[i].second + ": " + s.identity[i].second + " vs " +
                         first.identity[i].second + ")");
      }
    }
  }
  if (!all.compute || !all.urls) return;
  for (std::size_t i = 0; i < all.info.size(); ++i) {
    const auto& u = all.url_info[i];
    const auto& c = all.info[i];
    if (u.index != c.index || u.count != c.count) {
      throw UsageError("merge: " + c.path + ": /urls is shard " + shard_name(u.index, u.count) +
                       " but /compute is shard " + shard_name(c.index, c.count));
    }
  }
}

/// Each shard of the job is given exactly once.
void check_each_shard_once(const std::vector<ShardInfo>& info) {
  const auto count = info.front().count;
  for (const auto& s : info) {
    if (count < 1 || s.index < 0 || s.index >= count) {
      throw UsageError("merge: " + s.path + ": shard " + shard_name(s.index, count) +
                       " is out of range (damaged attributes /compute/shard_index, shard_count?)");
    }
  }
  std::vector<const ShardInfo*> by_index(static_cast<std::size_t>(count), nullptr);
  for (const auto& s : info) {
    auto& slot = by_index[static_cast<std::size_t>(s.index)];
    if (slot != nullptr) {
      std::error_code ec;
      if (std::filesystem::equivalent(s.path, slot->path, ec)) {
        throw UsageError("merge: " + s.path + " is given twice" +
                         (s.path == slot->path ? std::string() : " (also as " + slot->path + ")") +
                         ": give each shard once");
      }
      throw UsageError("merge: " + s.path + " and " + slot->path + " are both shard " +
                       shard_name(s.index, count) + ": give each shard once");
    }
    slot = &s;
  }
  std::string missing;
  std::int64_t missing_count = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    if (by_index[static_cast<std::size_t>(i)] != nullptr) continue;
    if (++missing_count <= 8) missing += (missing.empty() ? "" : ", ") + shard_name(i, count);
  }
  if (missing_count > 0) {
    throw UsageError("merge: " + std::string(missing_count == 1 ? "shard " : "shards ") + missing +
                     (missing_count > 8 ? ", ..." : "") + (missing_count == 1 ? " is" : " are") +
                     " missing (the job of " + info.front().path + " has " + std::to_string(count) +
                     " shards, " + std::to_string(info.size()) + " files were given)");
  }
}

/// Every row of a compute shard is done (resume unfinished shards first), none outside it.
void check_compute_rows(const std::vector<ShardInfo>& info, std::uint64_t n) {
  const auto count = info.front().count;
  for (const auto& s : info) {
    const Chunk w = block(n, static_cast<int>(count), static_cast<int>(s.index));
    const StatusTally inside = scan_results(s.path, w, kUse);
    if (inside.not_run > 0) {
      throw UsageError("merge: " + s.path + " (shard " + shard_name(s.index, count) + ") has " +
                       std::to_string(inside.not_run) +
                       " rows not run; finish it with `pmap run ... --shard " +
                       shard_name(s.index, count) + " --resume`");
    }
    for (const Chunk outside : {Chunk{0, w.begin}, Chunk{w.end, n}}) {
      if (scan_results(s.path, outside, kUse).ran() > 0) {
        throw UsageError("merge: " + s.path + " has rows outside its shard " +
                         shard_name(s.index, count) + ": the shards overlap");
      }
    }
  }
}

/// The output is none of the shards and may be written.
void check_output(const std::string& output, const std::vector<ShardInfo>& info, bool force) {
  for (const auto& s : info) {
    std::error_code ec;
    if (std::filesystem::equivalent(output, s.path, ec)) {
      throw UsageError("merge: the output " + output + " is also one of the shards (" + s.path +
                       "); choose another output file");
    }
  }
  check_output_path(output, force);
}

/// What the merged file says before its rows: root, the first shard's settings, one shard.
ComputeMeta merged_meta(const ShardInfo& first, const std::string& command) {
  ComputeMeta meta;
  meta.items = static_cast<std::uint64_t>(first.items);
  meta.columns = first.columns;
  meta.fields = first.fields;
  meta.params = first.params;
  meta.root = root_attributes(command, 0, 0);
  meta.compute = first.carried;
  meta.compute.emplace_back("shard_index", std::int64_t{0});
  meta.compute.emplace_back("shard_count", std::int64_t{1});
  meta.compute.emplace_back("merged_from", static_cast<std::int64_t>(first.count));
  return meta;
}

/// A name next to the output for the file being written.
std::string partial_path(const std::string& output) {
  const std::filesystem::path out_path(output);
  std::string name = ".";
  name.append(out_path.filename().string()).append(".merge-");
  name.append(std::to_string(getpid())).append(".partial");
  return (out_path.parent_path() / name).string();
}

/// Writes the merged stages into `partial`.
void write_merged(const std::string& partial, const Shards& all, const std::string& command,
                  MergeReport& report) {
  const ComputeMeta meta = merged_meta(all.info.front(), command);
  if (all.compute) {
    merge_compute(partial, meta, all.info, meta.items, report);
  } else {
    h5::File f = h5::File::create(partial, true);
    write_attrs(f.get(), meta.root);
    f.close("close " + partial);
  }
  if (all.urls) {
    h5::File dst = h5::File::open(partial, h5::Access::ReadWrite);
    const UrlTally t = detail::merge_url_rows(dst.get(), all.url_info, command);
    report.urls = t.total();
    report.exists = t.exists;
    report.does_not_exist = t.does_not_exist;
    report.unknown = t.unknown;
    dst.close("close " + partial);
  }
}

std::string text_of(const Attrs& attrs, const std::string& key) {
  for (const auto& [k, v] : attrs) {
    if (k != key) continue;
    if (const auto* str = std::get_if<std::string>(&v)) return *str;
    if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  }
  return "-";
}

/// Which task ran which block: /compute/blocks (block, begin, end, task, taken_from), or with
/// `urls` (each block's count of URLs) /urls/blocks (block, urls, task, taken_from).
void write_blocks_table(hid_t group, const std::vector<BlockFile>& blocks,
                        const std::vector<std::int64_t>* urls = nullptr) {
  struct Row {
    std::int64_t block, begin, end;
  };
  std::size_t task_len = 1, from_len = 1;
  for (const auto& b : blocks) {
    task_len = std::max(task_len, b.task.size());
    from_len = std::max(from_len, b.taken_from.size());
  }
  const std::size_t row_bytes = sizeof(Row) + task_len + from_len;
  const h5::Handle task = h5::fixed_string_type(task_len);
  const h5::Handle from = h5::fixed_string_type(from_len);
  const h5::Handle t(H5Tcreate(H5T_COMPOUND, row_bytes), "blocks table type");
  h5::check(H5Tinsert(t.get(), "block", offsetof(Row, block), H5T_NATIVE_INT64), "blocks.block");
  if (urls != nullptr) {
    h5::check(H5Tinsert(t.get(), "urls", offsetof(Row, begin), H5T_NATIVE_INT64), "blocks.urls");
  } else {
    h5::check(H5Tinsert(t.get(), "begin", offsetof(Row, begin), H5T_NATIVE_INT64), "blocks.begin");
    h5::check(H5Tinsert(t.get(), "end", offsetof(Row, end), H5T_NATIVE_INT64), "blocks.end");
  }
  h5::check(H5Tinsert(t.get(), "task", sizeof(Row), task.get()), "blocks.task");
  h5::check(H5Tinsert(t.get(), "taken_from", sizeof(Row) + task_len, from.get()),
            "blocks.taken_from");
  std::vector<char> buf(blocks.size() * row_bytes, '\0');
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto& b = blocks[i];
    const Row row{static_cast<std::int64_t>(i),
                  urls != nullptr ? (*urls)[i] : static_cast<std::int64_t>(b.begin),
                  static_cast<std::int64_t>(b.end)};
    char* at = buf.data() + i * row_bytes;
    std::memcpy(at, &row, sizeof row);
    std::memcpy(at + sizeof row, b.task.data(), b.task.size());
    std::memcpy(at + sizeof row + task_len, b.taken_from.data(), b.taken_from.size());
  }
  const hsize_t n = blocks.size();
  const h5::Handle space(H5Screate_simple(1, &n, nullptr), "space of blocks");
  const h5::Handle d(
      H5Dcreate2(group, "blocks", t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      "create table blocks");
  if (n > 0) {
    h5::check(H5Dwrite(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()),
              "write table blocks");
  }
}

/// A block file belongs to the job and holds exactly its rows, every one run.
void check_block(const BlockFile& b, const ComputeMeta& meta, const std::string& job_fnv) {
  constexpr const char* kBlockUse = "elastic merge:";
  const ShardInfo s = read_shard(b.path);
  const auto fail = [&](const std::string& why) {
    throw UsageError("elastic merge: " + b.path + ": " + why +
                     "; run `pmap submit --resume FOLDER` to redo the block (move this file "
                     "away first)");
  };
  for (const auto& [key, value] : s.identity) {
    if (key == "kernel" || key == "args" || key == "item_kind") {
      const std::string want = text_of(meta.compute, key);
      if (value != want)
        fail("not a block of this job (" + key + ": " + value + " vs " + want + ")");
    }
  }
  read_results(b.path, kBlockUse, [&] {
    const ResultsFile r = open_results_file(b.path, kBlockUse, "");
    const h5::Group g = r.file.group("compute");
    const auto attr = [&](const char* key) {
      return h5::has_attr(g.get(), key) ? h5::attr_text(g.get(), key, 17) : std::string("-");
    };
    if (attr(kBlockJobFnv) != job_fnv) {
      fail("not a block of this job (items fingerprint " + attr(kBlockJobFnv) + " vs " + job_fnv +
           ")");
    }
    if (attr(kBlockBegin) != std::to_string(b.begin) || attr(kBlockEnd) != std::to_string(b.end)) {
      fail("holds rows " + attr(kBlockBegin) + ":" + attr(kBlockEnd) + ", not " +
           std::to_string(b.begin) + ":" + std::to_string(b.end));
    }
    return 0;
  });
  if (static_cast<std::uint64_t>(s.items) != b.end - b.begin) {
    fail("has " + std::to_string(s.items) + " rows, the block " + std::to_string(b.end - b.begin));
  }
  const StatusTally t = scan_results(b.path, Chunk{0, b.end - b.begin}, kBlockUse);
  if (t.not_run > 0) fail(std::to_string(t.not_run) + " rows not run");
}

}  // namespace

MergeReport merge_blocks(const std::string& output, const ComputeMeta& meta,
                         const std::string& job_fnv, const std::vector<BlockFile>& blocks,
                         bool force) {
  std::uint64_t next = 0;
  for (const auto& b : blocks) {
    if (b.begin != next || b.end < b.begin) {
      throw UsageError("elastic merge: blocks do not cover the items: " + b.path + " holds rows " +
                       std::to_string(b.begin) + ":" + std::to_string(b.end) +
                       ", expected rows from " + std::to_string(next));
    }
    next = b.end;
    check_block(b, meta, job_fnv);
  }
  if (next != meta.items) {
    throw UsageError("elastic merge: the blocks cover " + std::to_string(next) + " of " +
                     std::to_string(meta.items) + " items");
  }
  check_output_path(output, force);
  const std::string partial = partial_path(output);
  MergeReport report;
  report.shards = static_cast<int>(blocks.size());
  try {
    ComputeMeta m = meta;
    m.compute.emplace_back("merged_from", static_cast<std::int64_t>(blocks.size()));
    create_results_file(partial, m, true);
    std::vector<ErrorRecord> errors;
    {
      h5::File dst = h5::File::open(partial, h5::Access::ReadWrite);
      const h5::Group dst_group = dst.group("compute");
      ComputeColumns out(dst_group);
      ParamColumns out_params(dst_group.get(), meta.items);
      for (const auto& b : blocks) {
        const h5::File src = h5::File::open(b.path, h5::Access::ReadOnly);
        const h5::Group group = src.group("compute");
        const Chunk rows{0, b.end - b.begin};
        copy_rows(ComputeColumns(group), out, rows, b.begin);
        copy_params(ParamColumns(group.get(), rows.end), out_params, rows, b.begin);
        auto e = read_errors_table(group);
        errors.insert(errors.end(), e.begin(), e.end());
      }
      out.close();
      out_params.close();
      write_blocks_table(dst_group.get(), blocks);
      dst.close("close " + partial);
    }
    finish_compute(partial, meta.items, std::move(errors), report);
    if (!force && std::filesystem::exists(output)) {
      throw UsageError("elastic merge: " + output +
                       ": file appeared during the merge; the existing file was left untouched");
    }
    std::filesystem::rename(partial, output);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(partial, ec);
    throw;
  }
  return report;
}

namespace {

/// merge_shards, then `extra(partial, shards)` before the merged file takes its name.
template <class Extra>
MergeReport merge_shards_and(const std::string& output, const std::vector<std::string>& shards,
                             bool force, const std::string& command, Extra&& extra) {
  const Shards all = read_shards(shards);
  check_same_job(all);
  check_each_shard_once(all.info);
  if (all.urls) detail::check_url_shards(all.url_info);
  if (all.compute) {
    check_compute_rows(all.info, static_cast<std::uint64_t>(all.info.front().items));
  }
  check_output(output, all.info, force);
  // Written under a temporary name next to the output and renamed when complete: a failure on
  // the way leaves no half-merged file, and an existing output (--force) stays until then.
  const std::string partial = partial_path(output);
  MergeReport report;
  report.shards = static_cast<int>(all.info.front().count);
  try {
    write_merged(partial, all, command, report);
    extra(partial, all);
    if (!force && std::filesystem::exists(output)) {
      throw UsageError("--output " + output +
                       ": file appeared during the merge; pass --force to "
                       "overwrite it (the existing file was left untouched)");
    }
    std::filesystem::rename(partial, output);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(partial, ec);
    throw;
  }
  return report;
}

}  // namespace

MergeReport merge_shards(const std::string& output, const std::vector<std::string>& shards,
                         bool force, const std::string& command) {
  return merge_shards_and(output, shards, force, command, [](const std::string&, const Shards&) {});
}

MergeReport merge_url_blocks(const std::string& output, const std::vector<BlockFile>& blocks,
                             bool force, const std::string& command) {
  std::vector<std::string> paths;
  for (const BlockFile& b : blocks) paths.push_back(b.path);
  return merge_shards_and(output, paths, force, command,
                          [&](const std::string& partial, const Shards& all) {
                            std::vector<std::int64_t> urls;
                            for (const auto& u : all.url_info) urls.push_back(u.shard_urls);
                            h5::File dst = h5::File::open(partial, h5::Access::ReadWrite);
                            write_blocks_table(dst.group("urls").get(), blocks, &urls);
                            dst.close("close " + partial);
                          });
}

}  // namespace pmap
