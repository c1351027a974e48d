#include "onnx_reinit/numerics/spectral.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "Eigen/Eigenvalues"
#include "onnx_reinit/base/parallel.h"
#include "onnx_reinit/numerics/rng.h"

namespace onnx_reinit {
namespace {

// Matrices are cut into at most kMaxRowGroups groups of consecutive rows of at least
// kGroupElements values, each summing its own part of the product: the grouping depends on the
// shape only, so the result does not depend on the thread count. Smaller matrices run whole, one
// per task.
constexpr int64_t kGroupElements = int64_t{1} << 20;
constexpr int64_t kMaxRowGroups = 16;

double Dot(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0;
  for (size_t k = 0; k < a.size(); ++k) sum += a[k] * b[k];
  return sum;
}

class GramOperator {
 public:
  explicit GramOperator(const SpectralInput& input) : input_(input) {
    const MatrixShape& s = input.shape;
    groups_ = std::clamp<int64_t>(s.rows * s.cols / kGroupElements, 1, std::min(kMaxRowGroups, s.rows));
    partial_.assign(groups_, std::vector<double>(s.cols));
    partial_t_.assign(groups_, 0.0);
  }
  int64_t groups() const { return groups_; }

  // out = (A - c)^T (A - c) v, with (A - c) v = A v - c (1·v) 1 and
  // (A - c)^T t = A^T t - c (1·t) 1.
  void Apply(const std::vector<double>& v, std::vector<double>& out, int threads) {
    const MatrixShape& s = input_.shape;
    double v_sum = 0;
    for (double x : v) v_sum += x;
    const double shift = input_.center * v_sum;
    ParallelFor(groups_, threads, [&](int64_t g) {
      const int64_t begin = s.rows * g / groups_, end = s.rows * (g + 1) / groups_;
      std::fill(partial_[g].begin(), partial_[g].end(), 0.0);
      partial_t_[g] = 0;
      AccumulateGroup(begin, end, v, shift, partial_[g].data(), &partial_t_[g]);
    });
    out = partial_[0];
    double t_sum = partial_t_[0];
    for (int64_t g = 1; g < groups_; ++g) {
      for (int64_t k = 0; k < s.cols; ++k) out[k] += partial_[g][k];
      t_sum += partial_t_[g];
    }
    if (input_.center != 0) {
      for (double& x : out) x -= input_.center * t_sum;
    }
  }

 private:
  void AccumulateGroup(int64_t begin, int64_t end, const std::vector<double>& v, double shift, double* w,
                       double* t_sum) const {
    const TensorValues& values = input_.values;
    const int64_t cols = input_.shape.cols;
    if (values.type() == FloatType::kFloat32) {
      spectral_internal::AccumulateRows(reinterpret_cast<const float*>(values.ElementAddress(begin * cols)),
                                        end - begin, cols, v.data(), shift, w, t_sum);
    } else if (values.type() == FloatType::kFloat64) {
      spectral_internal::AccumulateRows(reinterpret_cast<const double*>(values.ElementAddress(begin * cols)),
                                        end - begin, cols, v.data(), shift, w, t_sum);
    } else {
      std::vector<double> row(cols);
      for (int64_t r = begin; r < end; ++r) {
        values.Read(r * cols, cols, row.data());
        spectral_internal::AccumulateRows(row.data(), 1, cols, v.data(), shift, w, t_sum);
      }
    }
  }

  const SpectralInput& input_;
  int64_t groups_;
  std::vector<std::vector<double>> partial_;
  std::vector<double> partial_t_;
};

std::vector<double> StartVector(const SpectralInput& input) {
  const int64_t n = input.shape.cols;
  std::vector<float> normals((n + 3) / 4 * 4);
  StandardNormalsFloat(/*seed=*/0, StreamIdForName(input.name), 0, (n + 3) / 4, normals.data());
  std::vector<double> v(normals.begin(), normals.begin() + n);
  const double norm = std::sqrt(Dot(v, v));
  for (double& x : v) x /= norm;
  return v;
}

// Lanczos on the Gram operator with full reorthogonalization; the largest eigenvalue of the
// tridiagonal matrix, square-rooted.
double TopSingularValue(const SpectralInput& input, int threads) {
  GramOperator gram(input);
  std::vector<std::vector<double>> basis = {StartVector(input)};
  std::vector<double> alpha, beta, w;
  for (int step = 0; step < kLanczosSteps; ++step) {
    gram.Apply(basis.back(), w, threads);
    alpha.push_back(Dot(w, basis.back()));
    for (int pass = 0; pass < 2; ++pass) {  // Gram-Schmidt against every basis vector, twice
      for (const std::vector<double>& q : basis) {
        const double overlap = Dot(w, q);
        for (size_t k = 0; k < w.size(); ++k) w[k] -= overlap * q[k];
      }
    }
    const double norm = std::sqrt(Dot(w, w));
    // Breakdown: the Krylov space is invariant (e.g. an orthogonal matrix), the Ritz values exact.
    if (step + 1 == kLanczosSteps || norm <= 1e-10 * std::abs(alpha.front())) break;
    beta.push_back(norm);
    for (double& x : w) x /= norm;
    basis.push_back(w);
  }
  const int k = static_cast<int>(alpha.size());
  Eigen::MatrixXd tridiagonal = Eigen::MatrixXd::Zero(k, k);
  for (int i = 0; i < k; ++i) {
    tridiagonal(i, i) = alpha[i];
    if (i + 1 < k) tridiagonal(i, i + 1) = tridiagonal(i + 1, i) = beta[i];
  }
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(tridiagonal, Eigen::EigenvaluesOnly);
  return std::sqrt(std::max(0.0, solver.eigenvalues().maxCoeff()));
}

}  // namespace

std::optional<MatrixShape> MatrixShapeOf(const google::protobuf::RepeatedField<int64_t>& dims) {
  if (dims.size() < 2) return std::nullopt;
  MatrixShape shape{dims[0], 1};
  for (int d = 1; d < dims.size(); ++d) shape.cols *= dims[d];
  if (shape.rows <= 0 || shape.cols <= 0) return std::nullopt;
  return shape;
}

std::vector<double> TopSingularValues(const std::vector<SpectralInput>& inputs, int threads) {
  threads = ResolveThreadCount(threads);
  std::vector<double> result(inputs.size());
  std::vector<size_t> small, large;
  for (size_t i = 0; i < inputs.size(); ++i) {
    (inputs[i].shape.rows * inputs[i].shape.cols < 2 * kGroupElements ? small : large).push_back(i);
  }
  ParallelFor(static_cast<int64_t>(small.size()), threads,
              [&](int64_t i) { result[small[i]] = TopSingularValue(inputs[small[i]], 1); });
  for (size_t i : large) result[i] = TopSingularValue(inputs[i], threads);
  return result;
}

double SpectralEdge(const MatrixShape& shape, double std) {
  return std * (std::sqrt(static_cast<double>(shape.rows)) + std::sqrt(static_cast<double>(shape.cols)));
}

double SpectralLimit(const MatrixShape& shape, double std) {
  const double tau =
      std::cbrt(1 / std::sqrt(static_cast<double>(shape.rows)) + 1 / std::sqrt(static_cast<double>(shape.cols))) / 2;
  return SpectralEdge(shape, std) + kTracyWidomUnits * tau * std;
}

}  // namespace onnx_reinit
