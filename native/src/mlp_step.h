// One fused training step for a hard-sharing MLP (dense layers, ReLU or linear) with softmax
// cross-entropy, mean-squared-error and sigmoid cross-entropy heads, and Adam — forward, backward,
// gradient norm and update in one call, with the matmuls through OpenBLAS.
#pragma once
#include <cstddef>
#include <vector>

namespace mtlkit {

struct Dense {
  float* kernel;  // in × out, row-major
  float* bias;    // out
  float* mKernel;
  float* vKernel;
  float* mBias;
  float* vBias;
  int in;
  int out;
  bool relu;
};

enum class Loss { SoftmaxCrossEntropy = 0, MeanSquaredError = 1, SigmoidCrossEntropy = 2 };

struct Head {
  std::vector<Dense> layers;
  Loss loss;
  const float* targetF;  // regression / binary targets, batch × width
  const int* targetI;    // class indices, batch
  double weight;
};

// The float32 constants of one Adam step. The two that depend on the step t are formed in double
// from 1 − βᵗ (itself computed in double from t by the caller), as torch.optim.Adam forms them.
struct Adam {
  float beta1, beta2, oneMinusBeta1, oneMinusBeta2;
  float sqrtBiasCorrection2;  // sqrt(1 − β2ᵗ)
  float negStepSize;          // −lr / (1 − β1ᵗ)
  float epsilon;
};

// From [β1, β2, 1−β1, 1−β2, 1−β1ᵗ, 1−β2ᵗ, ε, −lr] (doubles).
Adam AdamConstants(const double d[8]);

struct StepResult {
  std::vector<double> losses;
  double gradNorm = 0;
  bool applied = false;
};

// One Adam update in place (PyTorch's form, float32 operations in the order of mtlkit's tfjs-op
// path, lib/native/adam.ts), on the gradient scaled by `scale` (1 when not clipping):
//   m ← m·β1 + g·(1−β1);  v ← v·β2 + g²·(1−β2);  value ← (m / (sqrt(v)/sqrt(1−β2ᵗ) + ε)) · (−lr/(1−β1ᵗ)) + value
void AdamUpdate(float* value, const float* g, float* m, float* v, size_t n, const Adam& a, float scale);

// Runs the step. Nothing is written to the parameters unless every loss and the gradient norm are
// finite; a loss counts as finite only when it is in float32 (each squared error and the mean),
// as on the generic tfjs step. clipNorm ≤ 0 means no clipping.
StepResult MlpStep(const float* x, int batch, std::vector<Dense>& trunk, std::vector<Head>& heads, const Adam& adam, double clipNorm);

}  // namespace mtlkit
