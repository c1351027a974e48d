#include "onnx_reinit/numerics/orthogonal.h"

#include <mutex>

#include <Eigen/Dense>

namespace onnx_reinit {
namespace {

// Eigen sizes the blocks of its matrix products (and so the order in which it sums) from the CPU's
// cache sizes, which it queries at run time. Fixing them makes the bits of Q the same on every
// machine for a given build, not only for any thread count. The values are Eigen's own defaults
// for x86. This is process-wide Eigen state; it affects only the speed of other Eigen users.
void FixEigenBlocking() {
  static std::once_flag once;
  std::call_once(once, [] { Eigen::setCpuCacheSizes(32 * 1024, 256 * 1024, 2 * 1024 * 1024); });
}

}  // namespace

void MakeOrthogonal(int64_t rows, int64_t cols, double gain, double* matrix) {
  if (rows == 0 || cols == 0) return;
  FixEigenBlocking();
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<RowMajor> view(matrix, rows, cols);
  const bool wide = rows < cols;
  // A column-major copy of the tall orientation: for a wide matrix, A = view^T.
  Eigen::MatrixXd a = wide ? Eigen::MatrixXd(view.transpose()) : Eigen::MatrixXd(view);
  const Eigen::Index m = a.rows(), n = a.cols();
  // In place: `a` becomes the Householder vectors below the diagonal and R on and above it.
  Eigen::HouseholderQR<Eigen::Ref<Eigen::MatrixXd>> qr(a);
  Eigen::MatrixXd q = Eigen::MatrixXd::Identity(m, n);
  q.applyOnTheLeft(qr.householderQ());
  for (Eigen::Index j = 0; j < n; ++j) {
    const double sign = a(j, j) < 0 ? -1.0 : 1.0;
    q.col(j) *= sign * gain;
  }
  if (wide) {
    view = q.transpose();
  } else {
    view = q;
  }
}

}  // namespace onnx_reinit
