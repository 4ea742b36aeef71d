// Go's text/tabwriter algorithm (format/writeLines) with liggitt/tabwriter's RememberWidths, so that column
// blocks, padding and the flush on single-cell lines come out byte for byte as kubectl writes them.
#include "cli/tabwriter.h"

namespace kctl::cli {

int rune_count(std::string_view s) {
  int n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

void TabWriter::end_cell() {
  lines_.back().push_back({cell_, rune_count(cell_)});
  cell_.clear();
}

void TabWriter::write(std::string_view text) {
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '\t' && c != '\n') continue;
    cell_.append(text.substr(start, i - start));
    start = i + 1;
    end_cell();
    if (c == '\n') {
      size_t cells = lines_.back().size();
      lines_.emplace_back();
      // A line of one cell cannot affect the columns that follow: Go flushes here.
      if (cells == 1) flush();
    }
  }
  cell_.append(text.substr(start));
}

void TabWriter::flush() {
  if (!cell_.empty()) end_cell();
  format(0, lines_.size());
  lines_.assign(1, Line{});
  out_.flush();
}

// One column block after another, recursively to the right, as Go's Writer.format does.
void TabWriter::format(size_t line0, size_t line1) {
  size_t column = widths_.size();
  for (size_t i = line0; i < line1; ++i) {
    if (column + 1 >= lines_[i].size()) continue;
    write_lines(line0, i);
    line0 = i;
    int width = min_width_;
    for (; i < line1; ++i) {
      if (column + 1 >= lines_[i].size()) break;
      width = std::max(width, lines_[i][column].width + padding_);
    }
    if (remember_) {
      if (max_widths_.size() < widths_.size())
        max_widths_.insert(max_widths_.end(), widths_.begin() + long(max_widths_.size()), widths_.end());
      if (max_widths_.size() == widths_.size())
        max_widths_.push_back(width);
      else if (max_widths_[column] > width)
        width = max_widths_[column];
      else
        max_widths_[column] = width;
    }
    widths_.push_back(width);
    format(line0, i);
    widths_.pop_back();
    line0 = i;  // the loop's increment skips line i, which has no cell in this column anyway
  }
  write_lines(line0, line1);
}

void TabWriter::write_lines(size_t line0, size_t line1) {
  for (size_t i = line0; i < line1; ++i) {
    const Line& line = lines_[i];
    for (size_t j = 0; j < line.size(); ++j) {
      out_ << line[j].text;
      if (j < widths_.size() && widths_[j] > line[j].width) out_ << std::string(size_t(widths_[j] - line[j].width), ' ');
    }
    if (i + 1 < lines_.size()) out_ << '\n';
  }
}

}  // namespace kctl::cli
