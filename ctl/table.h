// Table: rows of cells printed in aligned columns for shmpoolctl's human-readable output.
// With align_numbers, cells that look numeric (start with a digit, or '-' and a digit) are
// right-aligned (for columns of numbers); otherwise every cell is left-aligned (for
// field/value lists). Every cell is printed through Printable (printable.h): a string a
// tenant set cannot write control characters to the operator's terminal.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace shmpool::ctl {

class Table {
 public:
  explicit Table(std::vector<std::string> header, bool align_numbers = true)
      : align_numbers_(align_numbers) {
    rows_.push_back(std::move(header));
  }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const;

 private:
  bool align_numbers_;
  std::vector<std::vector<std::string>> rows_;  // rows_[0] is the header
};

}  // namespace shmpool::ctl
