#include "detail/command_template.hpp"

#include <utility>

#include "pmap/error.hpp"

namespace pmap::detail {
namespace {

/// What a placeholder stands for.
enum class Slot { Item, Row, NoExt, Base, Dir, BaseNoExt };

/// A piece of one word of the template: literal text or a placeholder.
struct Piece {
  bool literal = true;
  std::string text;
  Slot slot = Slot::Item;
};
using Word = std::vector<Piece>;

/// Recognises a placeholder at `s[i]`: {} {#} {.} {/} {//} {/.}; returns its length (0: none).
std::size_t placeholder_at(std::string_view s, std::size_t i, Slot& slot) {
  static constexpr std::pair<std::string_view, Slot> kSlots[] = {
      {"{}", Slot::Item},  {"{#}", Slot::Row},  {"{.}", Slot::NoExt},
      {"{/}", Slot::Base}, {"{//}", Slot::Dir}, {"{/.}", Slot::BaseNoExt}};
  for (const auto& [text, which] : kSlots) {
    if (s.substr(i, text.size()) == text) {
      slot = which;
      return text.size();
    }
  }
  return 0;
}

void add_char(Word& w, char c) {
  if (w.empty() || !w.back().literal) w.push_back({});
  w.back().text += c;
}

/// Splits the template into words the way a POSIX shell splits a simple command (whitespace,
/// '...', "..." with \ before " \ $ ` and newline, \ outside quotes), with no expansion of any
/// kind. Placeholders are recognised outside and inside quotes; `\{` is a literal brace.
std::vector<Word> split_template(std::string_view cmd) {
  std::vector<Word> words;
  Word word;
  bool in_word = false;
  const auto end_word = [&] {
    if (in_word) words.push_back(std::move(word));
    word.clear();
    in_word = false;
  };
  const auto fail = [&](const std::string& why) {
    return UsageError("args", "cmd=" + std::string(cmd), why);
  };
  for (std::size_t i = 0; i < cmd.size();) {
    const char c = cmd[i];
    Slot slot{};
    if (c == ' ' || c == '\t' || c == '\n') {
      end_word();
      ++i;
    } else if (c == '\\') {
      if (i + 1 >= cmd.size()) throw fail("ends with a lone backslash");
      in_word = true;
      add_char(word, cmd[i + 1]);
      i += 2;
    } else if (c == '\'') {
      const auto close = cmd.find('\'', i + 1);
      if (close == std::string_view::npos) throw fail("unbalanced single quote");
      in_word = true;
      for (std::size_t j = i + 1; j < close;) {
        if (const auto len = placeholder_at(cmd, j, slot); len > 0 && j + len <= close) {
          word.push_back({false, {}, slot});
          j += len;
        } else {
          add_char(word, cmd[j++]);
        }
      }
      i = close + 1;
    } else if (c == '"') {
      in_word = true;
      std::size_t j = i + 1;
      while (true) {
        if (j >= cmd.size()) throw fail("unbalanced double quote");
        const char d = cmd[j];
        if (d == '"') break;
        if (d == '\\' && j + 1 < cmd.size() &&
            std::string_view("\"\\$`\n").find(cmd[j + 1]) != std::string_view::npos) {
          add_char(word, cmd[j + 1]);
          j += 2;
        } else if (const auto len = placeholder_at(cmd, j, slot); len > 0) {
          word.push_back({false, {}, slot});
          j += len;
        } else {
          add_char(word, d);
          ++j;
        }
      }
      i = j + 1;
    } else if (const auto len = placeholder_at(cmd, i, slot); len > 0) {
      in_word = true;
      word.push_back({false, {}, slot});
      i += len;
    } else {
      in_word = true;
      add_char(word, c);
      ++i;
    }
  }
  end_word();
  if (words.empty()) throw fail("empty command");
  return words;
}

/// True when the template uses a placeholder of the item (not only {#}).
bool uses_item(const std::vector<Word>& words) {
  for (const auto& w : words) {
    for (const auto& p : w) {
      if (!p.literal && p.slot != Slot::Row) return true;
    }
  }
  return false;
}

/// The value of a placeholder for an item (GNU parallel's meanings).
std::string expand(Slot slot, std::string_view item, std::uint64_t row) {
  const auto slash = item.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? item : item.substr(slash + 1);
  const auto strip_ext = [](std::string_view path, std::size_t from) {
    const auto dot = path.rfind('.');
    return std::string(dot == std::string_view::npos || dot < from ? path : path.substr(0, dot));
  };
  switch (slot) {
    case Slot::Item:
      return std::string(item);
    case Slot::Row:
      return std::to_string(row);
    case Slot::NoExt:
      return strip_ext(item, slash == std::string_view::npos ? 0 : slash + 1);
    case Slot::Base:
      return std::string(base);
    case Slot::Dir:
      return slash == std::string_view::npos ? std::string(".")
                                             : std::string(item.substr(0, slash));
    case Slot::BaseNoExt:
      return strip_ext(base, 0);
  }
  return {};
}

/// Single-quotes `s` for /bin/sh: 'it'\''s'.
std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

/// argv for one item.
std::vector<std::string> build_argv(std::string_view cmd, bool shell, std::string_view item,
                                    std::uint64_t row) {
  if (shell) {
    // The template is the script; placeholders become single-quoted words.
    std::string script;
    bool used = false;
    for (std::size_t i = 0; i < cmd.size();) {
      Slot slot{};
      if (const auto len = placeholder_at(cmd, i, slot); len > 0) {
        script += shell_quote(expand(slot, item, row));
        used = used || slot != Slot::Row;
        i += len;
      } else {
        script += cmd[i++];
      }
    }
    if (script.find_first_not_of(" \t\n") == std::string::npos) {
      throw UsageError("args", "cmd=" + std::string(cmd), "empty command");
    }
    if (!used) {
      script += ' ';
      script += shell_quote(item);
    }
    return {"/bin/sh", "-c", script};
  }
  const auto words = split_template(cmd);
  std::vector<std::string> argv;
  argv.reserve(words.size() + 1);
  for (const auto& w : words) {
    std::string a;
    for (const auto& p : w) a += p.literal ? p.text : expand(p.slot, item, row);
    argv.push_back(std::move(a));
  }
  if (!uses_item(words)) argv.emplace_back(item);
  return argv;
}

std::vector<std::string> parse_columns(const std::string& text) {
  std::vector<std::string> out;
  std::size_t from = 0;
  while (true) {
    const auto comma = text.find(',', from);
    std::string name = text.substr(from, comma == std::string::npos ? text.npos : comma - from);
    const auto b = name.find_first_not_of(" \t");
    const auto e = name.find_last_not_of(" \t");
    name = b == std::string::npos ? std::string() : name.substr(b, e - b + 1);
    if (name.empty()) {
      throw UsageError("args", "columns=" + text,
                       "expected comma-separated column names, e.g. a,b");
    }
    out.push_back(std::move(name));
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return out;
}

void check_template(std::string_view cmd) { (void)split_template(cmd); }

std::vector<std::string> fixed_argv(std::string_view cmd, bool shell, std::string_view what) {
  if (shell) {
    if (cmd.find_first_not_of(" \t\n") == std::string_view::npos) {
      throw UsageError("args", "cmd=" + std::string(cmd), "empty command");
    }
    return {"/bin/sh", "-c", std::string(cmd)};
  }
  std::vector<std::string> argv;
  for (const auto& word : split_template(cmd)) {
    std::string a;
    for (const auto& p : word) {
      if (!p.literal) {
        throw UsageError("args", "cmd=" + std::string(cmd),
                         "placeholders such as {} have no meaning here: " + std::string(what));
      }
      a += p.text;
    }
    argv.push_back(std::move(a));
  }
  return argv;
}

}  // namespace pmap::detail
