// Go's text/tabwriter as kubectl configures it (liggitt/tabwriter with RememberWidths): tab-terminated cells are
// aligned in columns, so every table kctl prints has kubectl's exact spacing, watch output included.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace kctl::cli {

// printers.GetNewTabWriter: minwidth 6, tabwidth 4, padding 3, pad with spaces, remember widths across flushes.
inline constexpr int kTabMinWidth = 6;
inline constexpr int kTabPadding = 3;

class TabWriter {
 public:
  explicit TabWriter(std::ostream& out, int min_width = kTabMinWidth, int padding = kTabPadding,
                     bool remember_widths = true)
      : out_(out), min_width_(min_width), padding_(padding), remember_(remember_widths) {}
  ~TabWriter() { flush(); }
  TabWriter(const TabWriter&) = delete;
  TabWriter& operator=(const TabWriter&) = delete;

  void write(std::string_view text);
  TabWriter& operator<<(std::string_view text) {
    write(text);
    return *this;
  }
  // Formats and writes everything buffered (a partial last line stays partial).
  void flush();
  // Forgets the widths remembered from earlier flushes (kubectl does this when the kind changes).
  void reset_widths() { max_widths_.clear(); }

 private:
  struct Cell {
    std::string text;
    int width = 0;
  };
  using Line = std::vector<Cell>;
  void end_cell();
  void format(size_t line0, size_t line1);
  void write_lines(size_t line0, size_t line1);

  std::ostream& out_;
  int min_width_, padding_;
  bool remember_;
  std::vector<Line> lines_ = {Line{}};
  std::string cell_;  // the cell being read
  std::vector<int> widths_;
  std::vector<int> max_widths_;
};

// The number of runes in UTF-8 text: what Go's tabwriter counts as a cell's width.
int rune_count(std::string_view s);

}  // namespace kctl::cli
