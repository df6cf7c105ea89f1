#include "mlp_step.h"

#include "dense.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>

namespace mtlkit {
namespace {

struct Cache {
  std::vector<float> output;  // post-activation, batch × out
};

// y = act(x·W + b); keeps y for the backward pass.
void Forward(const float* x, int batch, const Dense& d, std::vector<float>& y) {
  y.assign(static_cast<size_t>(batch) * d.out, 0.0f);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, d.out, d.in, 1.0f, x, d.in, d.kernel, d.out, 0.0f, y.data(), d.out);
  for (int r = 0; r < batch; ++r) {
    float* row = y.data() + static_cast<size_t>(r) * d.out;
    for (int c = 0; c < d.out; ++c) {
      const float v = row[c] + d.bias[c];
      row[c] = d.relu ? (v > 0.0f ? v : 0.0f) : v;
    }
  }
}

struct Grad {
  std::vector<float> kernel, bias;
};

// Given dL/dy (already through the activation), accumulates dW, db and returns dL/dx (before the
// previous layer's activation) when wantInput is set.
void Backward(const float* x, int batch, const Dense& d, const float* dy, Grad& g, std::vector<float>* dx) {
  g.kernel.assign(static_cast<size_t>(d.in) * d.out, 0.0f);
  g.bias.assign(d.out, 0.0f);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d.in, d.out, batch, 1.0f, x, d.in, dy, d.out, 0.0f, g.kernel.data(), d.out);
  for (int r = 0; r < batch; ++r) {
    const float* row = dy + static_cast<size_t>(r) * d.out;
    for (int c = 0; c < d.out; ++c) g.bias[c] += row[c];
  }
  if (dx) {
    dx->assign(static_cast<size_t>(batch) * d.in, 0.0f);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, d.in, d.out, 1.0f, dy, d.out, d.kernel, d.out, 0.0f, dx->data(), d.in);
  }
}

// Multiplies dy by the ReLU mask of the layer output y (y > 0) when the layer had a ReLU.
void ThroughActivation(const Dense& d, const std::vector<float>& y, std::vector<float>& dy) {
  if (!d.relu) return;
  for (size_t i = 0; i < dy.size(); ++i) dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

// Loss and dL/dz for one head's raw output z (batch × width); dz is scaled by the task weight.
double LossAndGradient(const Head& h, const std::vector<float>& z, int batch, int width, std::vector<float>& dz) {
  dz.assign(z.size(), 0.0f);
  double total = 0;
  if (h.loss == Loss::SoftmaxCrossEntropy) {
    for (int r = 0; r < batch; ++r) {
      const float* row = z.data() + static_cast<size_t>(r) * width;
      float* drow = dz.data() + static_cast<size_t>(r) * width;
      float m = row[0];
      for (int c = 1; c < width; ++c) m = std::max(m, row[c]);
      double s = 0;
      for (int c = 0; c < width; ++c) s += std::exp(static_cast<double>(row[c] - m));
      const double logS = std::log(s);
      const int y = h.targetI[r];
      total += -(static_cast<double>(row[y] - m) - logS);
      for (int c = 0; c < width; ++c) {
        const double p = std::exp(static_cast<double>(row[c] - m) - logS);
        drow[c] = static_cast<float>(h.weight * (p - (c == y ? 1.0 : 0.0)) / batch);
      }
    }
    return total / batch;
  }
  const double n = static_cast<double>(batch) * width;
  for (size_t i = 0; i < z.size(); ++i) {
    const double zi = z[i];
    const double t = h.targetF[i];
    if (h.loss == Loss::MeanSquaredError) {
      // The generic step squares in float32: a term that overflows there makes its loss infinite,
      // so the fused step must not treat it as the finite double it would be here.
      const float d = static_cast<float>(zi - t);
      if (!std::isfinite(d * d)) total = HUGE_VAL;
      total += (zi - t) * (zi - t);
      dz[i] = static_cast<float>(h.weight * 2.0 * (zi - t) / n);
    } else {
      total += std::max(zi, 0.0) - zi * t + std::log1p(std::exp(-std::fabs(zi)));
      dz[i] = static_cast<float>(h.weight * (1.0 / (1.0 + std::exp(-zi)) - t) / n);
    }
  }
  return total / n;
}

double SumSquares(const std::vector<float>& a) { return SumOfSquares(a.data(), static_cast<int64_t>(a.size())); }

}  // namespace

Adam AdamConstants(const double d[8]) {
  return Adam{static_cast<float>(d[0]), static_cast<float>(d[1]), static_cast<float>(d[2]), static_cast<float>(d[3]),
              static_cast<float>(std::sqrt(d[5])), static_cast<float>(d[7] / d[4]), static_cast<float>(d[6])};
}

void AdamUpdate(float* value, const float* g, float* m, float* v, size_t n, const Adam& a, float scale) {
  for (size_t i = 0; i < n; ++i) {
    const float gi = g[i] * scale;
    const float m1 = m[i] * a.beta1;
    const float m2 = gi * a.oneMinusBeta1;
    const float mNew = m1 + m2;
    const float g2 = gi * gi;
    const float v1 = v[i] * a.beta2;
    const float v2 = g2 * a.oneMinusBeta2;
    const float vNew = v1 + v2;
    const float denom = std::sqrt(vNew) / a.sqrtBiasCorrection2 + a.epsilon;
    const float step = (mNew / denom) * a.negStepSize;
    m[i] = mNew;
    v[i] = vNew;
    value[i] = step + value[i];
  }
}

StepResult MlpStep(const float* x, int batch, std::vector<Dense>& trunk, std::vector<Head>& heads, const Adam& adam, double clipNorm) {
  StepResult result;
  // Forward through the trunk, keeping every layer's output.
  std::vector<std::vector<float>> trunkOut(trunk.size());
  const float* in = x;
  for (size_t l = 0; l < trunk.size(); ++l) {
    Forward(in, batch, trunk[l], trunkOut[l]);
    in = trunkOut[l].data();
  }
  const float* shared = in;
  const int sharedWidth = trunk.empty() ? 0 : trunk.back().out;

  std::vector<Grad> trunkGrads(trunk.size());
  std::vector<std::vector<Grad>> headGrads(heads.size());
  std::vector<float> dShared(static_cast<size_t>(batch) * sharedWidth, 0.0f);
  double sumSquares = 0;

  for (size_t t = 0; t < heads.size(); ++t) {
    Head& h = heads[t];
    std::vector<std::vector<float>> outs(h.layers.size());
    const float* hin = shared;
    for (size_t l = 0; l < h.layers.size(); ++l) {
      Forward(hin, batch, h.layers[l], outs[l]);
      hin = outs[l].data();
    }
    std::vector<float> dz;
    // Losses are float32 values on the generic path: one beyond float32's range is not finite.
    const double loss = static_cast<float>(LossAndGradient(h, outs.back(), batch, h.layers.back().out, dz));
    result.losses.push_back(loss);
    if (!std::isfinite(loss)) return result;
    // The last head layer is linear; hidden ones may be ReLU.
    headGrads[t].resize(h.layers.size());
    std::vector<float> dy = dz;
    for (size_t l = h.layers.size(); l-- > 0;) {
      const float* layerIn = l == 0 ? shared : outs[l - 1].data();
      std::vector<float> dx;
      Backward(layerIn, batch, h.layers[l], dy.data(), headGrads[t][l], &dx);
      if (l > 0) ThroughActivation(h.layers[l - 1], outs[l - 1], dx);
      dy.swap(dx);
    }
    for (size_t i = 0; i < dShared.size(); ++i) dShared[i] += dy[i];
    for (auto& g : headGrads[t]) sumSquares += SumSquares(g.kernel) + SumSquares(g.bias);
  }

  // Backward through the trunk (no gradient for the input x).
  if (!trunk.empty()) ThroughActivation(trunk.back(), trunkOut.back(), dShared);
  std::vector<float> dy = dShared;
  for (size_t l = trunk.size(); l-- > 0;) {
    const float* layerIn = l == 0 ? x : trunkOut[l - 1].data();
    std::vector<float> dx;
    Backward(layerIn, batch, trunk[l], dy.data(), trunkGrads[l], l > 0 ? &dx : nullptr);
    if (l > 0) {
      ThroughActivation(trunk[l - 1], trunkOut[l - 1], dx);
      dy.swap(dx);
    }
  }
  for (auto& g : trunkGrads) sumSquares += SumSquares(g.kernel) + SumSquares(g.bias);
  result.gradNorm = std::sqrt(sumSquares);
  if (!std::isfinite(result.gradNorm)) return result;

  const float scale = clipNorm > 0 && result.gradNorm > clipNorm ? static_cast<float>(clipNorm / result.gradNorm) : 1.0f;
  auto update = [&](Dense& d, Grad& g) {
    AdamUpdate(d.kernel, g.kernel.data(), d.mKernel, d.vKernel, g.kernel.size(), adam, scale);
    AdamUpdate(d.bias, g.bias.data(), d.mBias, d.vBias, g.bias.size(), adam, scale);
  };
  for (size_t l = 0; l < trunk.size(); ++l) update(trunk[l], trunkGrads[l]);
  for (size_t t = 0; t < heads.size(); ++t)
    for (size_t l = 0; l < heads[t].layers.size(); ++l) update(heads[t].layers[l], headGrads[t][l]);
  result.applied = true;
  return result;
}

}  // namespace mtlkit
