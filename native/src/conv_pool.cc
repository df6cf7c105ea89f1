// See conv_pool.h. Every index into x or dx is checked against the image, so any geometry whose
// array sizes the caller has verified (mtlkit_native.cc) stays inside the arrays.
#include "conv_pool.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

namespace mtlkit {
namespace {

// Patch matrices are built for a few images at a time: about 8 MB, big enough for one efficient
// sgemm on small images, small enough to stay in cache-friendly territory on large ones.
constexpr int64_t kChunkFloats = int64_t{1} << 21;

int ImagesPerChunk(const ConvGeometry& g) {
  const int64_t perImage = int64_t{g.outH} * g.outW * g.fH * g.fW * g.inC;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(g.batch, kChunkFloats / std::max<int64_t>(1, perImage))));
}

bool IsPointwise(const ConvGeometry& g) {
  return g.fH == 1 && g.fW == 1 && g.strideH == 1 && g.strideW == 1 && g.padTop == 0 && g.padLeft == 0 && g.outH == g.inH &&
         g.outW == g.inW;
}

std::vector<float>& Scratch() {
  static thread_local std::vector<float> buffer;
  return buffer;
}

// P[(b, oy, ox), (ky, kx, ci)] for images [b0, b0 + count).
void Im2col(const ConvGeometry& g, const float* x, int b0, int count, float* p) {
  const int64_t K = int64_t{g.fH} * g.fW * g.inC;
  int64_t row = 0;
  for (int b = b0; b < b0 + count; ++b) {
    const float* image = x + int64_t{b} * g.inH * g.inW * g.inC;
    for (int oy = 0; oy < g.outH; ++oy) {
      for (int ox = 0; ox < g.outW; ++ox, ++row) {
        float* dst = p + row * K;
        for (int ky = 0; ky < g.fH; ++ky) {
          const int iy = oy * g.strideH + ky * g.dilationH - g.padTop;
          for (int kx = 0; kx < g.fW; ++kx, dst += g.inC) {
            const int ix = ox * g.strideW + kx * g.dilationW - g.padLeft;
            if (iy < 0 || iy >= g.inH || ix < 0 || ix >= g.inW) {
              std::fill(dst, dst + g.inC, 0.0f);
            } else {
              std::memcpy(dst, image + (int64_t{iy} * g.inW + ix) * g.inC, sizeof(float) * g.inC);
            }
          }
        }
      }
    }
  }
}

// dx += the patches' gradients dP folded back onto the images [b0, b0 + count).
void Col2im(const ConvGeometry& g, const float* p, int b0, int count, float* dx) {
  const int64_t K = int64_t{g.fH} * g.fW * g.inC;
  int64_t row = 0;
  for (int b = b0; b < b0 + count; ++b) {
    float* image = dx + int64_t{b} * g.inH * g.inW * g.inC;
    for (int oy = 0; oy < g.outH; ++oy) {
      for (int ox = 0; ox < g.outW; ++ox, ++row) {
        const float* src = p + row * K;
        for (int ky = 0; ky < g.fH; ++ky) {
          const int iy = oy * g.strideH + ky * g.dilationH - g.padTop;
          for (int kx = 0; kx < g.fW; ++kx, src += g.inC) {
            const int ix = ox * g.strideW + kx * g.dilationW - g.padLeft;
            if (iy < 0 || iy >= g.inH || ix < 0 || ix >= g.inW) continue;
            float* dst = image + (int64_t{iy} * g.inW + ix) * g.inC;
            for (int c = 0; c < g.inC; ++c) dst[c] += src[c];
          }
        }
      }
    }
  }
}

}  // namespace

void Conv2dForward(const ConvGeometry& g, const float* x, const float* w, float* y) {
  const int K = g.fH * g.fW * g.inC;
  const int64_t rowsPerImage = int64_t{g.outH} * g.outW;
  if (IsPointwise(g)) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(g.batch * rowsPerImage), g.outC, K, 1.0f, x, K, w, g.outC,
                0.0f, y, g.outC);
    return;
  }
  const int chunk = ImagesPerChunk(g);
  std::vector<float>& p = Scratch();
  p.resize(static_cast<size_t>(chunk * rowsPerImage * K));
  for (int b0 = 0; b0 < g.batch; b0 += chunk) {
    const int count = std::min(chunk, g.batch - b0);
    Im2col(g, x, b0, count, p.data());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(count * rowsPerImage), g.outC, K, 1.0f, p.data(), K, w,
                g.outC, 0.0f, y + b0 * rowsPerImage * g.outC, g.outC);
  }
}

void Conv2dBackpropInput(const ConvGeometry& g, const float* dy, const float* w, float* dx) {
  const int K = g.fH * g.fW * g.inC;
  const int64_t rowsPerImage = int64_t{g.outH} * g.outW;
  if (IsPointwise(g)) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(g.batch * rowsPerImage), K, g.outC, 1.0f, dy, g.outC, w, g.outC,
                0.0f, dx, K);
    return;
  }
  std::fill(dx, dx + int64_t{g.batch} * g.inH * g.inW * g.inC, 0.0f);
  const int chunk = ImagesPerChunk(g);
  std::vector<float>& p = Scratch();
  p.resize(static_cast<size_t>(chunk * rowsPerImage * K));
  for (int b0 = 0; b0 < g.batch; b0 += chunk) {
    const int count = std::min(chunk, g.batch - b0);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(count * rowsPerImage), K, g.outC, 1.0f,
                dy + b0 * rowsPerImage * g.outC, g.outC, w, g.outC, 0.0f, p.data(), K);
    Col2im(g, p.data(), b0, count, dx);
  }
}

void Conv2dBackpropFilter(const ConvGeometry& g, const float* x, const float* dy, float* dw) {
  const int K = g.fH * g.fW * g.inC;
  const int64_t rowsPerImage = int64_t{g.outH} * g.outW;
  if (IsPointwise(g)) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, g.outC, static_cast<int>(g.batch * rowsPerImage), 1.0f, x, K, dy, g.outC,
                0.0f, dw, g.outC);
    return;
  }
  const int chunk = ImagesPerChunk(g);
  std::vector<float>& p = Scratch();
  p.resize(static_cast<size_t>(chunk * rowsPerImage * K));
  for (int b0 = 0; b0 < g.batch; b0 += chunk) {
    const int count = std::min(chunk, g.batch - b0);
    Im2col(g, x, b0, count, p.data());
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, g.outC, static_cast<int>(count * rowsPerImage), 1.0f, p.data(), K,
                dy + b0 * rowsPerImage * g.outC, g.outC, b0 == 0 ? 0.0f : 1.0f, dw, g.outC);
  }
}

namespace {

// The window of output (oy, ox), clipped to the image: rows [y0, y1), columns [x0, x1).
struct Window {
  int y0, y1, x0, x1;
};

Window WindowAt(const PoolGeometry& g, int oy, int ox) {
  const int top = oy * g.strideH - g.padTop;
  const int left = ox * g.strideW - g.padLeft;
  return {std::max(0, top), std::min(g.inH, top + g.fH), std::max(0, left), std::min(g.inW, left + g.fW)};
}

}  // namespace

void MaxPoolForward(const PoolGeometry& g, const float* x, float* y) {
  const int C = g.channels;
  for (int b = 0; b < g.batch; ++b) {
    const float* image = x + int64_t{b} * g.inH * g.inW * C;
    for (int oy = 0; oy < g.outH; ++oy) {
      for (int ox = 0; ox < g.outW; ++ox) {
        float* out = y + ((int64_t{b} * g.outH + oy) * g.outW + ox) * C;
        std::fill(out, out + C, -std::numeric_limits<float>::infinity());
        const Window w = WindowAt(g, oy, ox);
        for (int iy = w.y0; iy < w.y1; ++iy) {
          for (int ix = w.x0; ix < w.x1; ++ix) {
            const float* v = image + (int64_t{iy} * g.inW + ix) * C;
            for (int c = 0; c < C; ++c) out[c] = v[c] > out[c] ? v[c] : out[c];  // NaN never wins, as in tfjs
          }
        }
      }
    }
  }
}

void AvgPoolForward(const PoolGeometry& g, const float* x, float* y) {
  const int C = g.channels;
  for (int b = 0; b < g.batch; ++b) {
    const float* image = x + int64_t{b} * g.inH * g.inW * C;
    for (int oy = 0; oy < g.outH; ++oy) {
      for (int ox = 0; ox < g.outW; ++ox) {
        float* out = y + ((int64_t{b} * g.outH + oy) * g.outW + ox) * C;
        std::fill(out, out + C, 0.0f);
        const Window w = WindowAt(g, oy, ox);
        for (int iy = w.y0; iy < w.y1; ++iy) {
          for (int ix = w.x0; ix < w.x1; ++ix) {
            const float* v = image + (int64_t{iy} * g.inW + ix) * C;
            for (int c = 0; c < C; ++c) out[c] += v[c];
          }
        }
        const int count = std::max(0, w.y1 - w.y0) * std::max(0, w.x1 - w.x0);
        // tfjs divides by the count (0/0 = NaN for a window wholly in the padding).
        for (int c = 0; c < C; ++c) out[c] /= static_cast<float>(count);
      }
    }
  }
}

void MaxPoolBackward(const PoolGeometry& g, const float* x, const float* dy, float* dx) {
  const int C = g.channels;
  std::fill(dx, dx + int64_t{g.batch} * g.inH * g.inW * C, 0.0f);
  std::vector<float> best(C);
  std::vector<int64_t> where(C);
  for (int b = 0; b < g.batch; ++b) {
    const int64_t imageOffset = int64_t{b} * g.inH * g.inW * C;
    for (int oy = 0; oy < g.outH; ++oy) {
      for (int ox = 0; ox < g.outW; ++ox) {
        std::fill(best.begin(), best.end(), -std::numeric_limits<float>::infinity());
        std::fill(where.begin(), where.end(), int64_t{-1});
        const Window w = WindowAt(g, oy, ox);
        for (int iy = w.y0; iy < w.y1; ++iy) {
          for (int ix = w.x0; ix < w.x1; ++ix) {
            const int64_t at = imageOffset + (int64_t{iy} * g.inW + ix) * C;
            for (int c = 0; c < C; ++c) {
              if (x[at + c] > best[c]) {  // strictly: the first maximum wins ties
                best[c] = x[at + c];
                where[c] = at + c;
              }
            }
          }
        }
        const float* grad = dy + ((int64_t{b} * g.outH + oy) * g.outW + ox) * C;
        for (int c = 0; c < C; ++c) {
          if (where[c] >= 0) dx[where[c]] += grad[c];
        }
      }
    }
  }
}

void AvgPoolBackward(const PoolGeometry& g, const float* dy, float* dx) {
  const int C = g.channels;
  const int64_t total = int64_t{g.batch} * g.inH * g.inW * C;
  std::fill(dx, dx + total, 0.0f);
  for (int b = 0; b < g.batch; ++b) {
    float* image = dx + int64_t{b} * g.inH * g.inW * C;
    for (int oy = 0; oy < g.outH; ++oy) {
      for (int ox = 0; ox < g.outW; ++ox) {
        const float* grad = dy + ((int64_t{b} * g.outH + oy) * g.outW + ox) * C;
        const Window w = WindowAt(g, oy, ox);
        for (int iy = w.y0; iy < w.y1; ++iy) {
          for (int ix = w.x0; ix < w.x1; ++ix) {
            float* d = image + (int64_t{iy} * g.inW + ix) * C;
            for (int c = 0; c < C; ++c) d[c] += grad[c];
          }
        }
      }
    }
  }
  // Sum first, scale once: tfjs's order (Σ dy) · 1/(fh·fw).
  const float scale = 1.0f / static_cast<float>(g.fH * g.fW);
  for (int64_t i = 0; i < total; ++i) dx[i] *= scale;
}

}  // namespace mtlkit
