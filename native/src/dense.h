// Element-wise and reduction kernels around a dense layer's matrix products, over row-major
// float32 arrays, with tfjs's semantics: the fused matmul's bias and activation, the activation's
// gradient with the bias gradient in the same pass, and sums over leading or trailing axes.
#pragma once
#include <cstdint>

namespace mtlkit {

// Activations the dense kernels apply: 0 linear (none), 1 relu (x < 0 ? 0 : x, NaN stays NaN).
enum DenseActivation { kLinear = 0, kRelu = 1 };

// c[r, j] = act(c[r, j] + bias[j]) in place for rows × cols (bias may be null: no bias).
void BiasActivation(float* c, int64_t rows, int64_t cols, const float* bias, int activation);

// From dy and the layer's output y (rows × cols):
//   dz = dy ⊙ act'(y): for relu, dy · step(y) as tfjs forms it (dy · 1 where y > 0, dy · 0 where
//        y ≤ 0, NaN where y is NaN); not written for linear (dz is dy), dz may be null then;
//   db[j] = Σ_r dz[r, j] (accumulated in double, rows in order), when db is not null.
void DenseGrad(const float* dy, const float* y, int64_t rows, int64_t cols, int activation, float* dz, float* db);

// Sums of x viewed as outer × inner: over the outer index (out[j] = Σ_i x[i, j], mode 0) or over the
// inner one (out[i] = Σ_j x[i, j], mode 1); accumulated in double, in index order.
void ReduceSum(const float* x, int64_t outer, int64_t inner, int mode, float* out);

// Σ x[i]² in double precision (float32 squares cannot overflow a double), NaN or +∞ when any
// element is. Eight interleaved partial sums (element i goes to sum i mod 8), added pairwise at the
// end: the additions run in parallel instead of one long dependency chain.
double SumOfSquares(const float* x, int64_t n);

}  // namespace mtlkit
