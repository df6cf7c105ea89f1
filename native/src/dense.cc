#include "dense.h"

#include <cmath>
#include <limits>
#include <vector>

namespace mtlkit {

void BiasActivation(float* c, int64_t rows, int64_t cols, const float* bias, int activation) {
  if (bias == nullptr && activation == kLinear) return;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = c + r * cols;
    if (bias != nullptr) {
      for (int64_t j = 0; j < cols; ++j) row[j] += bias[j];
    }
    if (activation == kRelu) {
      for (int64_t j = 0; j < cols; ++j) row[j] = row[j] < 0.0f ? 0.0f : row[j];
    }
  }
}

void DenseGrad(const float* dy, const float* y, int64_t rows, int64_t cols, int activation, float* dz, float* db) {
  const bool relu = activation == kRelu;
  const float* grad = relu ? dz : dy;  // what db sums
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<double> acc(db != nullptr ? static_cast<size_t>(cols) : 0, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t at = r * cols;
    if (relu) {
      for (int64_t j = 0; j < cols; ++j) {
        const float v = y[at + j];
        const float step = v > 0.0f ? 1.0f : (std::isnan(v) ? nan : 0.0f);
        dz[at + j] = dy[at + j] * step;
      }
    }
    if (db != nullptr) {
      for (int64_t j = 0; j < cols; ++j) acc[j] += static_cast<double>(grad[at + j]);
    }
  }
  if (db != nullptr) {
    for (int64_t j = 0; j < cols; ++j) db[j] = static_cast<float>(acc[j]);
  }
}

void ReduceSum(const float* x, int64_t outer, int64_t inner, int mode, float* out) {
  if (mode == 0) {
    std::vector<double> acc(static_cast<size_t>(inner), 0.0);
    for (int64_t i = 0; i < outer; ++i) {
      const float* row = x + i * inner;
      for (int64_t j = 0; j < inner; ++j) acc[j] += static_cast<double>(row[j]);
    }
    for (int64_t j = 0; j < inner; ++j) out[j] = static_cast<float>(acc[j]);
    return;
  }
  for (int64_t i = 0; i < outer; ++i) {
    const float* row = x + i * inner;
    double s = 0.0;
    for (int64_t j = 0; j < inner; ++j) s += static_cast<double>(row[j]);
    out[i] = static_cast<float>(s);
  }
}

double SumOfSquares(const float* x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += static_cast<double>(x[i + j]) * static_cast<double>(x[i + j]);
  }
  for (int j = 0; i < n; ++i, ++j) acc[j] += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

}  // namespace mtlkit
