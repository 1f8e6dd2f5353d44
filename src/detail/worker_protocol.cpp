#include "detail/worker_protocol.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace pmap::detail::worker_protocol {
namespace {

/// The fields of a line, split at TABs (not unescaped).
std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t from = 0;
  while (true) {
    const auto tab = line.find('\t', from);
    out.push_back(line.substr(from, tab == std::string_view::npos ? line.npos : tab - from));
    if (tab == std::string_view::npos) return out;
    from = tab + 1;
  }
}

bool parse_row(std::string_view text, std::uint64_t& row) {
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), row);
  return !text.empty() && ec == std::errc() && p == text.data() + text.size();
}

bool parse_number(std::string_view text, double& v) {
  if (text.size() > 1 && text.front() == '+') text.remove_prefix(1);
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || p != text.data() + text.size()) return false;
  if (ec == std::errc::result_out_of_range) {  // 1e999, a huge integer: what strtod makes of it
    const std::string copy(text);
    v = std::strtod(copy.c_str(), nullptr);
    return true;
  }
  return ec == std::errc();
}

Reply bad(std::string why) {
  Reply r;
  r.message = std::move(why);
  return r;
}

}  // namespace

void append_escaped(std::string& out, std::string_view field) {
  for (const char c : field) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
}

std::string unescape(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] != '\\' || i + 1 == field.size()) {
      out += field[i];
      continue;
    }
    const char c = field[++i];
    out += c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c;
  }
  return out;
}

std::string header(const std::vector<std::string>& columns,
                   const std::vector<std::pair<std::string, std::string>>& args, bool input_items) {
  std::string out(kName);
  out += '\t';
  out += std::to_string(kVersion);
  out += "\ncolumns";
  for (const auto& c : columns) {
    out += '\t';
    append_escaped(out, c);
  }
  out += '\n';
  for (const auto& [name, value] : args) {
    out += "arg\t";
    append_escaped(out, name);
    out += '\t';
    append_escaped(out, value);
    out += '\n';
  }
  out += input_items ? "items\tinput\nend\n" : "items\trange\nend\n";
  return out;
}

void append_item(std::string& out, const Item& item) {
  char num[24];
  out += "item\t";
  auto r = std::to_chars(num, num + sizeof num, item.row);
  out.append(num, r.ptr);
  out += '\t';
  if (item.from_input) {
    append_escaped(out, item.text);
  } else {
    r = std::to_chars(num, num + sizeof num, item.value);
    out.append(num, r.ptr);
  }
  out += '\n';
}

void append_range(std::string& out, std::uint64_t row, std::uint64_t count, std::int64_t start,
                  std::int64_t step) {
  char num[24];
  out += "range";
  for (const std::uint64_t v : {row, count}) {
    out += '\t';
    out.append(num, std::to_chars(num, num + sizeof num, v).ptr);
  }
  for (const std::int64_t v : {start, step}) {
    out += '\t';
    out.append(num, std::to_chars(num, num + sizeof num, v).ptr);
  }
  out += '\n';
}

bool is_handshake(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const auto f = split_fields(line);
  return f.size() >= 2 && f[0] == kName && f[1] == std::to_string(kVersion);
}

bool offers(std::string_view line, std::string_view feature) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const auto f = split_fields(line);
  for (std::size_t i = 2; i < f.size(); ++i) {
    if (f[i] == feature) return true;
  }
  return false;
}

Reply parse_reply(std::string_view line, std::span<double> room, std::size_t k) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const auto f = split_fields(line);
  Reply r;
  const bool many = !f.empty() && f[0] == "oks";
  if (f.size() < 2 || (f[0] != "ok" && f[0] != "error" && !many) || !parse_row(f[1], r.row) ||
      (many && (f.size() < 3 || !parse_row(f[2], r.count) || r.count == 0))) {
    return bad("expected 'ok ROW VALUES', 'oks ROW COUNT VALUES' or 'error ROW MESSAGE', got " +
               quote_line(line));
  }
  if (f[0] == "error") {
    r.kind = Reply::Kind::Error;
    std::string message;
    for (std::size_t i = 2; i < f.size(); ++i) {
      if (i > 2) message += ' ';
      message += unescape(f[i]);
    }
    r.message = message.empty() ? "failed (the worker gave no message)" : std::move(message);
    return r;
  }
  const std::size_t first = many ? 3 : 2;
  const std::size_t want = r.count * k;
  if (k > 0 && r.count > room.size() / k) {
    return bad("row " + std::to_string(r.row) + ": answers " + std::to_string(r.count) +
               " items, only " + std::to_string(room.size() / k) + " were waiting");
  }
  if (f.size() - first != want) {
    return bad("row " + std::to_string(r.row) + ": " + std::to_string(f.size() - first) +
               " values, expected " + std::to_string(want) + " (" + std::to_string(k) +
               " per item) in " + quote_line(line));
  }
  for (std::size_t i = 0; i < want; ++i) {
    if (!parse_number(f[first + i], room[i])) {
      return bad("row " + std::to_string(r.row) + ": " + quote_line(f[first + i]) +
                 " is not a number");
    }
  }
  r.kind = Reply::Kind::Ok;
  return r;
}

std::string quote_line(std::string_view line) {
  std::string out = "'";
  const std::size_t n = std::min<std::size_t>(line.size(), 200);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c < 0x20 || c == 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", c);
      out += esc;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + (line.size() > n ? "...'" : "'");
}

}  // namespace pmap::detail::worker_protocol
