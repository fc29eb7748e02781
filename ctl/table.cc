#include "ctl/table.h"

#include <algorithm>
#include <cctype>

#include "ctl/printable.h"

namespace shmpool::ctl {

std::string FitWidth(const std::string& line, size_t width) {
  if (line.size() <= width) return line;
  size_t end = width;
  while (end > 0 && (static_cast<unsigned char>(line[end]) & 0xC0) == 0x80) --end;
  return line.substr(0, end);
}

size_t Table::Print(std::ostream& out, size_t max_width) const {
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : rows_) {
    rows.emplace_back();
    for (const std::string& cell : row) rows.back().push_back(Printable(cell));
  }
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  size_t shown = width.empty() ? 0 : 1, used = width.empty() ? 0 : width[0];
  while (shown < width.size() && used + 2 + width[shown] <= max_width) used += 2 + width[shown++];
  for (size_t r = 0; r < rows.size(); ++r) {
    std::string line;
    const size_t cells = std::min(rows[r].size(), shown);
    for (size_t i = 0; i < cells; ++i) {
      const std::string& cell = rows[r][i];
      const std::string pad(width[i] - cell.size(), ' ');
      const size_t sign = !cell.empty() && cell[0] == '-';  // negative numbers align too
      const bool numeric = align_numbers_ && r > 0 && cell.size() > sign &&
                           std::isdigit(static_cast<unsigned char>(cell[sign]));
      if (i) line += "  ";
      line += numeric ? pad + cell : (i + 1 == cells ? cell : cell + pad);
    }
    out << FitWidth(line, max_width) << "\n";
  }
  return width.size() - shown;
}

}  // namespace shmpool::ctl
