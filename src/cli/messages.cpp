#include "cli/messages.hpp"

#include <span>

namespace pmap::cli {
namespace {

struct Flag {
  std::string_view field;
  std::string_view flag;
};

// The job fields (ComputeJob's, and UrlJob's as "urls.<field>") and the flags that set them.
constexpr Flag kRun[] = {
    {"kernel", "--kernel"},
    {"range", "--range"},
    {"input", "--input"},
    {"grid", "--grid"},
    {"field", "--field"},
    {"format", "--format"},
    {"print", "--print"},
    {"args", "--arg"},
    {"plugin", "--plugin"},
    {"schedule", "--schedule"},
    {"chunk", "--chunk"},
    {"threads", "--threads"},
    {"output", "--output"},
    {"force", "--force"},
    {"resume", "--resume"},
    {"retry_failed", "--retry-failed"},
    {"shard", "--shard"},
    {"max_failures", "--max-failures"},
    {"item_timeout", "--item-timeout"},
    {"deadline", "--deadline"},
    {"progress", "--progress"},
    {"urls.input", "--urls"},
    {"urls.threads", "--url-threads"},
    {"urls.timeout", "--url-timeout"},
};
constexpr Flag kUrls[] = {
    {"urls.input", "--input"},       {"urls.threads", "--threads"},
    {"urls.timeout", "--timeout"},   {"urls.retries", "--retries"},
    {"urls.per_host", "--per-host"}, {"urls.method", "--method"},
    {"urls.insecure", "--insecure"}, {"urls.cacert", "--cacert"},
    {"urls.capath", "--capath"},     {"print", "--print"},
    {"output", "--output"},          {"force", "--force"},
    {"resume", "--resume"},          {"shard", "--shard"},
    {"progress", "--progress"},
};
constexpr Flag kKernels[] = {{"plugin", "--plugin"}};
constexpr Flag kMerge[] = {{"force", "--force"}};

std::span<const Flag> table(std::string_view subcommand) {
  if (subcommand == "run") return kRun;
  if (subcommand == "urls") return kUrls;
  if (subcommand == "kernels") return kKernels;
  if (subcommand == "merge") return kMerge;
  return {};
}

/// True when some subcommand has a flag for `field`.
bool known_field(std::string_view field) {
  for (const std::string_view sub : {"run", "urls", "kernels", "merge"}) {
    if (!flag_for(sub, field).empty()) return true;
  }
  return false;
}

/// `text` with every "`field`" replaced by the subcommand's flag for it, or by the plain field
/// name where the subcommand has none ("choose another output" in `pmap merge OUT.h5 ...`).
/// Other backquoted text ("`pmap kernels`") is kept.
std::string replace_fields(const std::string& text, std::string_view subcommand) {
  std::string out;
  std::size_t from = 0;
  while (true) {
    const auto open = text.find('`', from);
    const auto close = open == std::string::npos ? open : text.find('`', open + 1);
    if (close == std::string::npos) break;
    const auto field = std::string_view(text).substr(open + 1, close - open - 1);
    const auto flag = flag_for(subcommand, field);
    out.append(text, from, open - from);
    if (!flag.empty()) {
      out += flag;
    } else if (known_field(field)) {
      out += field;
    } else {
      out.append(text, open, close + 1 - open);
    }
    from = close + 1;
  }
  out.append(text, from);
  return out;
}

}  // namespace

std::string_view flag_for(std::string_view subcommand, std::string_view field) {
  for (const Flag& f : table(subcommand)) {
    if (f.field == field) return f.flag;
  }
  return {};
}

std::vector<std::string_view> flags_of(std::string_view subcommand) {
  std::vector<std::string_view> flags;
  for (const Flag& f : table(subcommand)) flags.push_back(f.flag);
  return flags;
}

std::string message(const Error& e, std::string_view subcommand) {
  const std::string_view flag = flag_for(subcommand, e.subject());
  if (flag.empty()) return replace_fields(e.what(), subcommand);
  std::string head(flag);
  if (!e.value().empty()) head += " " + e.value();
  return head + ": " + replace_fields(e.detail(), subcommand);
}

int exit_code(const std::exception& e) noexcept {
  if (const auto* error = dynamic_cast<const Error*>(&e)) return static_cast<int>(error->code());
  return static_cast<int>(ExitCode::RunFailed);
}

}  // namespace pmap::cli
