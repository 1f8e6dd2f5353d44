// pmap — CSV/TSV records, parsed incrementally (private): bytes go in as they are read, whole
// records come out with where each one starts (byte offset, line) and each field's column. RFC
// 4180 quoting ("a,b", "say ""hi""", newlines inside quotes); CRLF or LF; blank lines skipped.
//
//   RecordParser p(',');
//   p.feed(buf, n, [&](const Record& r) { ... });  ...  p.finish(same_callback);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pmap::detail {

/// One field of a record: its text (quotes removed) and its 1-based column on its line.
struct RecordField {
  std::string_view text;
  std::uint64_t column = 1;
};

/// A complete record: where it starts and its fields (views valid during the callback only).
struct Record {
  std::uint64_t offset = 0;  ///< byte offset of its first byte in the file
  std::uint64_t line = 1;    ///< 1-based line it starts on
  std::vector<RecordField> fields;
  bool open_quote = false;  ///< the file ended inside a quoted field
};

class RecordParser {
 public:
  /// Fields separated by `delim`; `offset` and `line` say where the first byte fed sits.
  explicit RecordParser(char delim, std::uint64_t offset = 0, std::uint64_t line = 1)
      : delim_(delim), offset_(offset), line_(line) {}

  /// Parses `n` bytes; calls on_record(const Record&) for each record they complete.
  template <typename F>
  void feed(const char* p, std::size_t n, F&& on_record) {
    for (std::size_t i = 0; i < n;) {
      if (started_ && !in_quotes_ && !after_quote_) {  // a run of ordinary bytes, at once
        std::size_t j = i;
        while (j < n && p[j] != delim_ && p[j] != '\n' && p[j] != '\r' && p[j] != '"') ++j;
        if (j > i) {
          text_.append(p + i, j - i);
          offset_ += j - i;
          column_ += j - i;
          i = j;
          continue;
        }
      }
      step(p[i++], on_record);
    }
  }
  /// Ends the input: a last record without a newline is completed.
  template <typename F>
  void finish(F&& on_record) {
    if (after_quote_) {
      after_quote_ = false;
      in_quotes_ = false;
    }
    if (started_) {
      rec_.open_quote = in_quotes_;
      end_field();
      emit(on_record);
    }
  }
  /// Byte offset just after the last byte fed.
  [[nodiscard]] std::uint64_t offset() const noexcept { return offset_; }

 private:
  template <typename F>
  void step(char c, F&& on_record) {
    if (after_quote_) {  // a '"' inside quotes: "" is a quote, anything else ends the quoting
      after_quote_ = false;
      if (c == '"') {
        text_ += '"';
        advance(c);
        return;
      }
      in_quotes_ = false;
    }
    if (!started_) {
      if (c == '\n' || c == '\r') {  // blank lines between records
        advance(c);
        return;
      }
      started_ = true;
      rec_.offset = offset_;
      rec_.line = line_;
      field_column_ = column_;
    }
    if (in_quotes_) {
      if (c == '"') {
        after_quote_ = true;
      } else {
        text_ += c;
      }
    } else if (c == delim_) {
      end_field();
      field_column_ = column_ + 1;
    } else if (c == '\n') {
      end_field();
      advance(c);
      emit(on_record);
      return;
    } else if (c == '\r') {
      // dropped outside quotes (CRLF)
    } else if (c == '"' && text_.size() == field_begin_) {
      in_quotes_ = true;
    } else {
      text_ += c;
    }
    advance(c);
  }

  void advance(char c) {
    ++offset_;
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
  }

  void end_field() {
    bounds_.push_back({field_begin_, text_.size() - field_begin_, field_column_});
    field_begin_ = text_.size();
  }

  template <typename F>
  void emit(F&& on_record) {
    rec_.fields.clear();
    for (const auto& b : bounds_) {
      rec_.fields.push_back({std::string_view(text_).substr(b.begin, b.size), b.column});
    }
    on_record(static_cast<const Record&>(rec_));
    text_.clear();
    bounds_.clear();
    field_begin_ = 0;
    started_ = false;
    rec_.open_quote = false;
  }

  struct Bounds {
    std::size_t begin, size;
    std::uint64_t column;
  };
  char delim_;
  std::uint64_t offset_;
  std::uint64_t line_;
  std::uint64_t column_ = 1;
  std::uint64_t field_column_ = 1;
  bool started_ = false, in_quotes_ = false, after_quote_ = false;
  std::string text_;
  std::size_t field_begin_ = 0;
  std::vector<Bounds> bounds_;
  Record rec_;
};

}  // namespace pmap::detail
