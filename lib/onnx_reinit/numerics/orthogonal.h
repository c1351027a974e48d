// Random orthogonal matrices, as torch.nn.init.orthogonal_ makes them.
#ifndef ONNX_REINIT_NUMERICS_ORTHOGONAL_H_
#define ONNX_REINIT_NUMERICS_ORTHOGONAL_H_

#include <cstdint>

namespace onnx_reinit {

// Turns `matrix`, a rows x cols row-major matrix of independent N(0, 1) values, into gain * Q, in
// place, where Q has orthonormal columns (rows >= cols) or orthonormal rows (rows < cols):
//   A = matrix, transposed when rows < cols (so that A is tall: m x n, m >= n)
//   A = Q R (Householder QR, Eigen::HouseholderQR; Q thin, m x n)
//   Q = Q * diag(sign(diag(R)))   (sign(0) taken as +1; torch's sign gives 0 there, which has
//                                  probability 0 for a Gaussian matrix)
//   matrix = gain * Q, transposed back when rows < cols.
// The sign correction makes Q Haar-distributed (Mezzadri, "How to generate random matrices from
// the classical compact groups", Notices AMS 54(5), 2007). E.g. a Conv weight [16, 4, 3, 3] is a
// 16 x 36 matrix with orthonormal rows; an LSTM gate block [H, H] is an orthogonal H x H matrix.
//
// Computed in double precision on the calling thread only: the result is a pure function of the
// input bits for a given build. Eigen's SIMD target is fixed by the compile flags (no -march), and
// its cache-dependent product blocking is pinned with Eigen::setCpuCacheSizes (process-wide Eigen
// state, set once on the first call), so the bits do not depend on the machine either.
// Cost: about (4/3) m n^2 flops for the QR and as much again to form Q (about 2 s for 2048 x 2048 and
// 16 s for 4096 x 4096 on one core of a 2020s x86-64), and 2 m n doubles of memory besides `matrix`.
// Thread-safe. A zero rows or cols is a no-op.
void MakeOrthogonal(int64_t rows, int64_t cols, double gain, double* matrix);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_NUMERICS_ORTHOGONAL_H_
