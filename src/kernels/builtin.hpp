// Private: factories of the built-in kernels and a small base that stores their metadata.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pmap/kernel.hpp"

namespace pmap::kernels {

/// Holds the metadata every built-in kernel declares; subclasses implement run().
class BasicKernel : public Kernel {
 public:
  BasicKernel(std::string name, std::string description, std::vector<ArgSpec> args,
              std::vector<std::string> columns)
      : name_(std::move(name)),
        description_(std::move(description)),
        args_(std::move(args)),
        columns_(std::move(columns)) {}
  [[nodiscard]] std::string_view name() const override { return name_; }
  [[nodiscard]] std::string_view description() const override { return description_; }
  [[nodiscard]] const std::vector<ArgSpec>& arguments() const override { return args_; }
  [[nodiscard]] const std::vector<std::string>& columns() const override { return columns_; }

 private:
  std::string name_;
  std::string description_;
  std::vector<ArgSpec> args_;
  std::vector<std::string> columns_;
};

std::unique_ptr<Kernel> make_compute_x();
std::unique_ptr<Kernel> make_spin();
std::unique_ptr<Kernel> make_pi();
std::unique_ptr<Kernel> make_mandelbrot();
std::unique_ptr<Kernel> make_exec();

}  // namespace pmap::kernels
