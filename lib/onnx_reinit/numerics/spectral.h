// The largest singular value of weight matrices, against the edge a fresh i.i.d. matrix has: trained
// weights have outlying singular values (structure), freshly drawn ones do not, whatever their std.
//
// A weight of shape [d0, d1, ...] is read as the matrix [d0, d1·d2·...] (torch's fans' layout: a
// Conv weight [out, in/groups · kernel]). For an m x n matrix of i.i.d. entries with mean 0 and
// std s, the largest singular value tends to the edge s·(sqrt(m) + sqrt(n)) (Geman 1980; Bai and
// Yin 1993: any entry law with a finite fourth moment - normal, uniform, truncated normal). Its
// fluctuation follows the Tracy-Widom law TW1 (Johnstone 2001): sigma_1^2 = s^2 (mu + sigma W),
// mu = (sqrt(m) + sqrt(n))^2, sigma = (sqrt(m) + sqrt(n)) (1/sqrt(m) + 1/sqrt(n))^(1/3), so
// sigma_1 = s (sqrt(m) + sqrt(n) + tau W) with tau = (1/sqrt(m) + 1/sqrt(n))^(1/3) / 2.
// The limit is edge + kTracyWidomUnits · tau · s: P(TW1 > 7) < 1e-8, and simulations of normal,
// uniform and truncated-normal matrices from 1 x 1 to 256 x 256 (200,000 draws for the small ones)
// never exceeded 4.7 units (the small shapes' finite-size law is narrower than TW1 in the upper
// tail; see bench/spectral_tail.py), so a fresh draw of any shape fails with probability < 1e-6.
//
// The estimate: kLanczosSteps steps of Lanczos with full reorthogonalization on (A - c)^T (A - c),
// from a start vector of Philox normals keyed by the tensor's name (seed 0), one pass over the
// matrix per step. A Ritz value never exceeds the top eigenvalue, so the estimate never exceeds
// sigma_1: its bias (downwards, largest when the top singular values crowd together, as in a
// fresh matrix) cannot turn a fresh draw into a failure; an outlier, separated from the bulk, is
// found within a few steps. The products sum in float64 in a fixed order (16 SIMD lanes, fixed row
// groups), so the estimate is identical for any thread count and on every instruction set.
#ifndef ONNX_REINIT_NUMERICS_SPECTRAL_H_
#define ONNX_REINIT_NUMERICS_SPECTRAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "google/protobuf/repeated_field.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {

constexpr int kLanczosSteps = 5;
constexpr double kTracyWidomUnits = 7.0;

struct MatrixShape {
  int64_t rows = 0, cols = 0;
};
// [d0, d1·d2·...] for a tensor of rank 2 or more with no zero dim; nullopt otherwise.
std::optional<MatrixShape> MatrixShapeOf(const google::protobuf::RepeatedField<int64_t>& dims);

struct SpectralInput {
  TensorValues values;
  MatrixShape shape;
  double center = 0;  // subtracted from every entry: the mean the matrix is drawn around
  std::string name;   // keys the start vector
};

// The estimated largest singular value of each input's matrix (values - center), on up to
// `threads` threads (0: all cores).
std::vector<double> TopSingularValues(const std::vector<SpectralInput>& inputs, int threads);

// s·(sqrt(m) + sqrt(n)), and the limit edge + kTracyWidomUnits·tau·s (see above).
double SpectralEdge(const MatrixShape& shape, double std);
double SpectralLimit(const MatrixShape& shape, double std);

namespace spectral_internal {  // the SIMD kernel (spectral_simd.cc)

// For each row a of rows[0 .. num_rows) (row-major, `cols` values each, any alignment):
// t = a·v - shift, w += t·a, t_sum += t; dot products in 16 fixed lanes.
void AccumulateRows(const float* rows, int64_t num_rows, int64_t cols, const double* v, double shift, double* w,
                    double* t_sum);
void AccumulateRows(const double* rows, int64_t num_rows, int64_t cols, const double* v, double shift, double* w,
                    double* t_sum);

}  // namespace spectral_internal

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_NUMERICS_SPECTRAL_H_
