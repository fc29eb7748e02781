#include "ctl/table.h"

#include <algorithm>
#include <cctype>

#include "ctl/printable.h"

namespace shmpool::ctl {

void Table::Print(std::ostream& out) const {
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
  for (size_t r = 0; r < rows.size(); ++r) {
    std::string line;
    for (size_t i = 0; i < rows[r].size(); ++i) {
      const std::string& cell = rows[r][i];
      const std::string pad(width[i] - cell.size(), ' ');
      const size_t sign = !cell.empty() && cell[0] == '-';  // negative numbers align too
      const bool numeric = align_numbers_ && r > 0 && cell.size() > sign &&
                           std::isdigit(static_cast<unsigned char>(cell[sign]));
      if (i) line += "  ";
      line += numeric ? pad + cell : (i + 1 == rows[r].size() ? cell : cell + pad);
    }
    out << line << "\n";
  }
}

}  // namespace shmpool::ctl
