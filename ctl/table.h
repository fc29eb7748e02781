// Table: rows of cells printed in aligned columns for shmpoolctl's human-readable output.
// With align_numbers, cells that look numeric (start with a digit, or '-' and a digit) are
// right-aligned (for columns of numbers); otherwise every cell is left-aligned (for
// field/value lists). Every cell is printed through Printable (printable.h): a string a
// tenant set cannot write control characters to the operator's terminal. Given a width, it
// prints the columns that fit (the first one at least, cut to the width) and leaves out the
// ones after them.
#pragma once

#include <cstddef>
#include <limits>
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
  // Returns how many columns were left out.
  size_t Print(std::ostream& out, size_t width = std::numeric_limits<size_t>::max()) const;

 private:
  bool align_numbers_;
  std::vector<std::vector<std::string>> rows_;  // rows_[0] is the header
};

// The first `width` columns of `line` (a printable line: a UTF-8 character is not cut).
std::string FitWidth(const std::string& line, size_t width);

}  // namespace shmpool::ctl
