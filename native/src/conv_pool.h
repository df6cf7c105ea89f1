// 2-D convolution and pooling over NHWC float32 images, with tfjs's conventions (filters
// [fh, fw, cin, cout]; pads given as top/left offsets, anything outside the image is 0 for a
// convolution and absent for a pooling window). Convolutions run as im2col + one OpenBLAS sgemm per
// chunk of images; pooling is plain loops with the channel innermost.
#pragma once
#include <cstdint>

namespace mtlkit {

struct ConvGeometry {
  int batch, inH, inW, inC, outH, outW, outC, fH, fW, strideH, strideW, dilationH, dilationW, padTop, padLeft;
};

// y[b, oy, ox, co] = Σ x[b, oy·sh + ky·dh − top, ox·sw + kx·dw − left, ci] · w[ky, kx, ci, co]
void Conv2dForward(const ConvGeometry& g, const float* x, const float* w, float* y);
// dx = the transpose of the above applied to dy (overwrites dx).
void Conv2dBackpropInput(const ConvGeometry& g, const float* dy, const float* w, float* dx);
// dw[ky, kx, ci, co] = Σ_{b,oy,ox} x[b, iy, ix, ci] · dy[b, oy, ox, co] (overwrites dw).
void Conv2dBackpropFilter(const ConvGeometry& g, const float* x, const float* dy, float* dw);

struct PoolGeometry {
  int batch, inH, inW, channels, outH, outW, fH, fW, strideH, strideW, padTop, padLeft;
};

// Max over the window's positions inside the image (−∞ when none).
void MaxPoolForward(const PoolGeometry& g, const float* x, float* y);
// Mean over the window's positions inside the image (tfjs divides by their count).
void AvgPoolForward(const PoolGeometry& g, const float* x, float* y);
// dy goes to the first position (row-major) holding the window's maximum, as tfjs's cpu MaxPoolGrad
// (nowhere when no value beats −∞: all −∞ or NaN).
void MaxPoolBackward(const PoolGeometry& g, const float* x, const float* dy, float* dx);
// Each window's dy spread over its positions inside the image, times 1/(fh·fw) (tfjs's AvgPoolGrad).
void AvgPoolBackward(const PoolGeometry& g, const float* dy, float* dx);

}  // namespace mtlkit
