// pmap — the end-of-run report: figures of merit, one parsable line, the same values as attributes.
#pragma once

#include <cstdint>
#include <string>

#include "pmap/results.hpp"
#include "pmap/run_report.hpp"

namespace pmap {

/// The figures of `report` as HDF5 attributes (the same names and values as its line()).
Attrs report_attrs(const RunReport& report);

/// Contribution of one ok row to RunReport::checksum (sum modulo 2^64 over rows).
std::uint64_t row_checksum(std::uint64_t row, const double* values, std::size_t columns);

}  // namespace pmap
