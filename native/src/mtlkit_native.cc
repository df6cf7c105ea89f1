// mtlkit's optional native kernels: single-precision matrix products through OpenBLAS, called
// from Node-API on Float32Array views (for the wasm backend, views straight into its heap, so no
// copy is made). The TypeScript side (lib/native/) registers them as tfjs kernels.
#include <node_api.h>
#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "conv_pool.h"
#include "dense.h"
#include "mlp_step.h"

namespace {

// Every argument is checked before any memory is touched: a bad one throws a JavaScript error
// (TypeError for a wrong kind of value, RangeError for a value out of range) that names it.

bool Check(napi_env env, napi_status status, const char* what) {
  if (status == napi_ok) return true;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, nullptr, (std::string("mtlkit native: ") + what).c_str());
  return false;
}

bool TypeError(napi_env env, const std::string& message) {
  napi_throw_type_error(env, nullptr, ("mtlkit native: " + message).c_str());
  return false;
}

bool RangeError(napi_env env, const std::string& message) {
  napi_throw_range_error(env, nullptr, ("mtlkit native: " + message).c_str());
  return false;
}

// a·b without signed overflow (which would wrap to a small size and pass the bounds checks).
bool MulChecked(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }
bool AddChecked(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }

bool GetBool(napi_env env, napi_value value, bool* out, const char* name) {
  if (value == nullptr || napi_get_value_bool(env, value, out) != napi_ok) {
    return TypeError(env, std::string("argument '") + name + "' must be a boolean");
  }
  return true;
}

bool GetFloatArray(napi_env env, napi_value value, float** data, size_t* length, const char* name) {
  napi_typedarray_type type;
  void* raw = nullptr;
  napi_value buffer;
  size_t offset = 0;
  bool isTyped = false;
  if (value == nullptr || napi_is_typedarray(env, value, &isTyped) != napi_ok || !isTyped ||
      napi_get_typedarray_info(env, value, &type, length, &raw, &buffer, &offset) != napi_ok || type != napi_float32_array) {
    std::string message = std::string("mtlkit native: argument '") + name + "' must be a Float32Array";
    napi_throw_type_error(env, nullptr, message.c_str());
    return false;
  }
  *data = static_cast<float*>(raw);
  return true;
}

// A whole number (napi_get_value_int64 alone would turn 2.5 into 2 and NaN into 0).
bool GetInt(napi_env env, napi_value value, int64_t* out, const char* name) {
  double d = 0;
  if (value == nullptr || napi_get_value_double(env, value, &d) != napi_ok) {
    return TypeError(env, std::string("argument '") + name + "' must be an integer");
  }
  if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) > 9007199254740991.0) {
    return RangeError(env, std::string("argument '") + name + "' must be a whole number within ±2^53 (got " + std::to_string(d) + ")");
  }
  *out = static_cast<int64_t>(d);
  return true;
}

// A size OpenBLAS can take (an int), at least `min`.
bool GetDim(napi_env env, napi_value value, int64_t* out, const char* name, int64_t min) {
  if (!GetInt(env, value, out, name)) return false;
  if (*out < min || *out > INT_MAX) {
    return RangeError(env, std::string("argument '") + name + "' must be between " + std::to_string(min) + " and " + std::to_string(INT_MAX) +
                               " (got " + std::to_string(*out) + ")");
  }
  return true;
}

// The arguments of a matrix product, checked: C[m×n] = op(A)·op(B) for each of `batch` items.
struct GemmArgs {
  bool transA, transB;
  int64_t batch, m, n, k, strideA, strideB;
  float *a, *b, *c;
};

// Reads and checks gemm's 11 arguments (argv[0..10]); false with a JavaScript error thrown.
bool ParseGemm(napi_env env, napi_value* argv, GemmArgs* g) {
  if (!GetBool(env, argv[0], &g->transA, "transA") || !GetBool(env, argv[1], &g->transB, "transB")) return false;
  int64_t &batch = g->batch, &m = g->m, &n = g->n, &k = g->k, &strideA = g->strideA, &strideB = g->strideB;
  // Strides are never negative: a negative one would read before the start of the array.
  if (!GetDim(env, argv[2], &batch, "batch", 1) || !GetDim(env, argv[3], &m, "m", 0) || !GetDim(env, argv[4], &n, "n", 0) ||
      !GetDim(env, argv[5], &k, "k", 0) || !GetInt(env, argv[7], &strideA, "strideA") || !GetInt(env, argv[9], &strideB, "strideB")) {
    return false;
  }
  if (strideA < 0 || strideB < 0) {
    return RangeError(env, "gemm strides must be 0 (broadcast) or positive (got strideA " + std::to_string(strideA) + ", strideB " +
                               std::to_string(strideB) + ")");
  }
  size_t lengthA, lengthB, lengthC;
  if (!GetFloatArray(env, argv[6], &g->a, &lengthA, "a") || !GetFloatArray(env, argv[8], &g->b, &lengthB, "b") ||
      !GetFloatArray(env, argv[10], &g->c, &lengthC, "c")) {
    return false;
  }
  // Bounds: every access must stay inside the arrays the caller passed; sizes are computed with
  // checked arithmetic, so an overflow is an error rather than a small number that passes.
  int64_t mk, kn, mn, spanA, spanB, needA, needB, needC;
  if (!MulChecked(m, k, &mk) || !MulChecked(k, n, &kn) || !MulChecked(m, n, &mn) || !MulChecked(batch - 1, strideA, &spanA) ||
      !MulChecked(batch - 1, strideB, &spanB) || !AddChecked(spanA, mk, &needA) || !AddChecked(spanB, kn, &needB) ||
      !MulChecked(batch, mn, &needC)) {
    return RangeError(env, "gemm sizes overflow (batch " + std::to_string(batch) + ", m " + std::to_string(m) + ", n " + std::to_string(n) +
                               ", k " + std::to_string(k) + ", strideA " + std::to_string(strideA) + ", strideB " + std::to_string(strideB) + ")");
  }
  if (static_cast<uint64_t>(needA) > lengthA || static_cast<uint64_t>(needB) > lengthB || static_cast<uint64_t>(needC) > lengthC) {
    return RangeError(env, "gemm operand shapes do not fit the arrays given (a needs " + std::to_string(needA) + " of " + std::to_string(lengthA) +
                               ", b " + std::to_string(needB) + " of " + std::to_string(lengthB) + ", c " + std::to_string(needC) + " of " +
                               std::to_string(lengthC) + ")");
  }
  return true;
}

void RunGemm(const GemmArgs& g) {
  if (g.m * g.n == 0) return;
  // BLAS wants leading dimensions of at least 1, even for an empty operand.
  const int lda = static_cast<int>(std::max<int64_t>(1, g.transA ? g.m : g.k));
  const int ldb = static_cast<int>(std::max<int64_t>(1, g.transB ? g.k : g.n));
  for (int64_t i = 0; i < g.batch; ++i) {
    cblas_sgemm(CblasRowMajor, g.transA ? CblasTrans : CblasNoTrans, g.transB ? CblasTrans : CblasNoTrans, static_cast<int>(g.m),
                static_cast<int>(g.n), static_cast<int>(g.k), 1.0f, g.a + i * g.strideA, lda, g.b + i * g.strideB, ldb, 0.0f,
                g.c + i * g.m * g.n, static_cast<int>(g.n));
  }
}

// gemm(transA, transB, batch, m, n, k, a, strideA, b, strideB, c)
// For each batch item: C[m×n] = op(A)·op(B), row-major; op(A) is m×k, op(B) is k×n.
// strideA / strideB are 0 for an operand broadcast over the batch.
napi_value Gemm(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  if (!Check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "mtlkit native: bad call")) return nullptr;
  if (argc != 11) {
    napi_throw_error(env, nullptr, "mtlkit native: gemm expects 11 arguments");
    return nullptr;
  }
  GemmArgs g;
  if (!ParseGemm(env, argv, &g)) return nullptr;
  RunGemm(g);
  return nullptr;
}

// True when `value` is null or undefined.
bool IsNullish(napi_env env, napi_value value) {
  napi_valuetype type;
  return value == nullptr || napi_typeof(env, value, &type) != napi_ok || type == napi_null || type == napi_undefined;
}

// An activation code of dense.h (0 linear, 1 relu).
bool GetActivation(napi_env env, napi_value value, int* out) {
  int64_t a = 0;
  if (!GetInt(env, value, &a, "activation")) return false;
  if (a != mtlkit::kLinear && a != mtlkit::kRelu) return RangeError(env, "activation must be 0 (linear) or 1 (relu), got " + std::to_string(a));
  *out = static_cast<int>(a);
  return true;
}

// fusedGemm(transA, transB, batch, m, n, k, a, strideA, b, strideB, c, bias, activation): gemm's
// product, then c = act(c + bias) with bias (n floats, or null) added to every row; activation as
// in dense.h. tfjs's _FusedMatMul with a bias over the last axis.
napi_value FusedGemm(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  if (!Check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "bad call")) return nullptr;
  if (argc != 13) {
    TypeError(env, "fusedGemm expects 13 arguments");
    return nullptr;
  }
  GemmArgs g;
  if (!ParseGemm(env, argv, &g)) return nullptr;
  float* bias = nullptr;
  size_t biasLength = 0;
  if (!IsNullish(env, argv[11])) {
    if (!GetFloatArray(env, argv[11], &bias, &biasLength, "bias")) return nullptr;
    if (static_cast<int64_t>(biasLength) != g.n) {
      RangeError(env, "fusedGemm bias must hold n = " + std::to_string(g.n) + " floats (got " + std::to_string(biasLength) + ")");
      return nullptr;
    }
  }
  int activation = 0;
  if (!GetActivation(env, argv[12], &activation)) return nullptr;
  RunGemm(g);
  mtlkit::BiasActivation(g.c, g.batch * g.m, g.n, bias, activation);
  return nullptr;
}

// biasActivation(c, rows, cols, bias, activation): c = act(c + bias) in place, bias (cols floats, or
// null) added to every row (dense.h's BiasActivation; a fused convolution's bias and activation).
napi_value BiasActivationBinding(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (!Check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "bad call")) return nullptr;
  if (argc != 5) {
    TypeError(env, "biasActivation expects 5 arguments");
    return nullptr;
  }
  int64_t rows, cols, size;
  int activation = 0;
  if (!GetDim(env, argv[1], &rows, "rows", 0) || !GetDim(env, argv[2], &cols, "cols", 0) || !GetActivation(env, argv[4], &activation)) {
    return nullptr;
  }
  if (!MulChecked(rows, cols, &size)) {
    RangeError(env, "biasActivation sizes overflow");
    return nullptr;
  }
  float *c, *bias = nullptr;
  size_t lengthC, lengthBias = 0;
  if (!GetFloatArray(env, argv[0], &c, &lengthC, "c")) return nullptr;
  if (!IsNullish(env, argv[3]) && !GetFloatArray(env, argv[3], &bias, &lengthBias, "bias")) return nullptr;
  if (static_cast<int64_t>(lengthC) != size || (bias != nullptr && static_cast<int64_t>(lengthBias) != cols)) {
    RangeError(env, "biasActivation arrays do not match rows × cols = " + std::to_string(rows) + " × " + std::to_string(cols) + " (bias: cols)");
    return nullptr;
  }
  mtlkit::BiasActivation(c, rows, cols, bias, activation);
  return nullptr;
}

// denseGrad(dy, y, rows, cols, activation, dz, db): dense.h's DenseGrad. y and dz may be null for
// activation 0 (linear); db may be null (no bias).
napi_value DenseGradBinding(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (!Check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "bad call")) return nullptr;
  if (argc != 7) {
    TypeError(env, "denseGrad expects 7 arguments");
    return nullptr;
  }
  int64_t rows, cols, size;
  int activation = 0;
  if (!GetDim(env, argv[2], &rows, "rows", 0) || !GetDim(env, argv[3], &cols, "cols", 0) || !GetActivation(env, argv[4], &activation)) {
    return nullptr;
  }
  if (!MulChecked(rows, cols, &size)) {
    RangeError(env, "denseGrad sizes overflow");
    return nullptr;
  }
  float *dy, *y = nullptr, *dz = nullptr, *db = nullptr;
  size_t lengthDy, lengthY = 0, lengthDz = 0, lengthDb = 0;
  if (!GetFloatArray(env, argv[0], &dy, &lengthDy, "dy")) return nullptr;
  const bool relu = activation == mtlkit::kRelu;
  if (relu && (!GetFloatArray(env, argv[1], &y, &lengthY, "y") || !GetFloatArray(env, argv[5], &dz, &lengthDz, "dz"))) return nullptr;
  if (!IsNullish(env, argv[6]) && !GetFloatArray(env, argv[6], &db, &lengthDb, "db")) return nullptr;
  if (static_cast<int64_t>(lengthDy) != size || (relu && (static_cast<int64_t>(lengthY) != size || static_cast<int64_t>(lengthDz) != size)) ||
      (db != nullptr && static_cast<int64_t>(lengthDb) != cols)) {
    RangeError(env, "denseGrad arrays do not match rows × cols = " + std::to_string(rows) + " × " + std::to_string(cols) +
                        " (dy, y, dz: rows·cols floats; db: cols)");
    return nullptr;
  }
  mtlkit::DenseGrad(dy, y, rows, cols, activation, dz, db);
  return nullptr;
}

// reduceSum(x, outer, inner, mode, out): dense.h's ReduceSum (mode 0: over the outer index, out
// holds inner floats; mode 1: over the inner index, out holds outer floats).
napi_value ReduceSumBinding(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (!Check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "bad call")) return nullptr;
  if (argc != 5) {
    TypeError(env, "reduceSum expects 5 arguments");
    return nullptr;
  }
  int64_t outer, inner, mode, size;
  if (!GetDim(env, argv[1], &outer, "outer", 0) || !GetDim(env, argv[2], &inner, "inner", 0) || !GetInt(env, argv[3], &mode, "mode")) return nullptr;
  if (mode != 0 && mode != 1) {
    RangeError(env, "reduceSum mode must be 0 (over outer) or 1 (over inner), got " + std::to_string(mode));
    return nullptr;
  }
  if (!MulChecked(outer, inner, &size)) {
    RangeError(env, "reduceSum sizes overflow");
    return nullptr;
  }
  float *x, *out;
  size_t lengthX, lengthOut;
  if (!GetFloatArray(env, argv[0], &x, &lengthX, "x") || !GetFloatArray(env, argv[4], &out, &lengthOut, "out")) return nullptr;
  if (static_cast<int64_t>(lengthX) != size || static_cast<int64_t>(lengthOut) != (mode == 0 ? inner : outer)) {
    RangeError(env, "reduceSum arrays do not match outer × inner = " + std::to_string(outer) + " × " + std::to_string(inner));
    return nullptr;
  }
  mtlkit::ReduceSum(x, outer, inner, static_cast<int>(mode), out);
  return nullptr;
}

bool GetDouble(napi_env env, napi_value value, double* out, const char* name) {
  if (napi_get_value_double(env, value, out) != napi_ok) {
    std::string message = std::string("mtlkit native: argument '") + name + "' must be a number";
    napi_throw_type_error(env, nullptr, message.c_str());
    return false;
  }
  return true;
}

// adam(value, gradient, m, v, beta1, beta2, oneMinusBeta1, oneMinusBeta2, oneMinusAccBeta1, oneMinusAccBeta2,
//      epsilon, negLearningRate): one Adam update in place (mtlkit::AdamUpdate), PyTorch's form; the two
// 1 − βᵗ arrive in double and the step constants are formed from them in double (mtlkit::AdamConstants).
napi_value Adam(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  if (!Check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "mtlkit native: bad call")) return nullptr;
  if (argc != 12) {
    napi_throw_error(env, nullptr, "mtlkit native: adam expects 12 arguments");
    return nullptr;
  }
  float *value, *grad, *m, *v;
  size_t n, ng, nm, nv;
  if (!GetFloatArray(env, argv[0], &value, &n, "value") || !GetFloatArray(env, argv[1], &grad, &ng, "gradient") ||
      !GetFloatArray(env, argv[2], &m, &nm, "m") || !GetFloatArray(env, argv[3], &v, &nv, "v")) {
    return nullptr;
  }
  if (ng != n || nm != n || nv != n) {
    napi_throw_range_error(env, nullptr, "mtlkit native: adam arrays must have equal lengths");
    return nullptr;
  }
  double d[8];
  const char* names[8] = {"beta1", "beta2", "oneMinusBeta1", "oneMinusBeta2", "oneMinusAccBeta1", "oneMinusAccBeta2", "epsilon", "negLearningRate"};
  for (int i = 0; i < 8; ++i) {
    if (!GetDouble(env, argv[4 + i], &d[i], names[i])) return nullptr;
  }
  const mtlkit::Adam adam = mtlkit::AdamConstants(d);
  mtlkit::AdamUpdate(value, grad, m, v, n, adam, 1.0f);
  return nullptr;
}

// sumOfSquares(arrays): Σ x² over every element of every Float32Array, accumulated in double
// precision (float32 squares cannot overflow a double), NaN or ±Infinity when any element is.
napi_value SumOfSquares(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (!Check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "bad call")) return nullptr;
  bool isArray = false;
  if (argc < 1 || napi_is_array(env, argv[0], &isArray) != napi_ok || !isArray) {
    TypeError(env, "sumOfSquares expects an array of Float32Arrays");
    return nullptr;
  }
  uint32_t count = 0;
  if (!Check(env, napi_get_array_length(env, argv[0], &count), "sumOfSquares: cannot read the array's length")) return nullptr;
  double total = 0.0;
  for (uint32_t j = 0; j < count; ++j) {
    napi_value element;
    if (!Check(env, napi_get_element(env, argv[0], j, &element), "sumOfSquares: cannot read an element")) return nullptr;
    float* data;
    size_t n;
    if (!GetFloatArray(env, element, &data, &n, "arrays[i]")) return nullptr;
    total += mtlkit::SumOfSquares(data, static_cast<int64_t>(n));
  }
  napi_value result;
  if (!Check(env, napi_create_double(env, total, &result), "sumOfSquares: cannot return the result")) return nullptr;
  return result;
}

// object[name], or nullptr (with nothing thrown: the Get* helper that receives it names the argument).
napi_value Property(napi_env env, napi_value object, const char* name) {
  napi_valuetype type;
  if (object == nullptr || napi_typeof(env, object, &type) != napi_ok || type != napi_object) return nullptr;
  napi_value value = nullptr;
  if (napi_get_named_property(env, object, name, &value) != napi_ok) return nullptr;
  return value;
}

// A JavaScript array and its length.
bool GetArray(napi_env env, napi_value value, uint32_t* length, const char* name) {
  bool isArray = false;
  if (value == nullptr || napi_is_array(env, value, &isArray) != napi_ok || !isArray) {
    return TypeError(env, std::string("argument '") + name + "' must be an array");
  }
  return Check(env, napi_get_array_length(env, value, length), "cannot read an array's length");
}

bool ReadLayer(napi_env env, napi_value object, mtlkit::Dense* d) {
  float* arrays[6];
  size_t lengths[6];
  const char* names[6] = {"kernel", "bias", "mKernel", "vKernel", "mBias", "vBias"};
  for (int i = 0; i < 6; ++i) {
    if (!GetFloatArray(env, Property(env, object, names[i]), &arrays[i], &lengths[i], names[i])) return false;
  }
  bool relu = false;
  if (!GetBool(env, Property(env, object, "relu"), &relu, "relu")) return false;
  const size_t out = lengths[1];
  if (out == 0 || lengths[0] % out != 0 || lengths[2] != lengths[0] || lengths[3] != lengths[0] || lengths[4] != out || lengths[5] != out) {
    napi_throw_range_error(env, nullptr, "mtlkit native: mlpStep layer arrays have inconsistent sizes");
    return false;
  }
  if (out > INT_MAX || lengths[0] / out > INT_MAX) return RangeError(env, "mlpStep layer is too large");
  *d = mtlkit::Dense{arrays[0], arrays[1], arrays[2], arrays[3], arrays[4], arrays[5], static_cast<int>(lengths[0] / out), static_cast<int>(out), relu};
  return true;
}

bool ReadLayers(napi_env env, napi_value array, std::vector<mtlkit::Dense>* layers, const char* name) {
  uint32_t n = 0;
  if (!GetArray(env, array, &n, name)) return false;
  for (uint32_t i = 0; i < n; ++i) {
    napi_value element;
    if (!Check(env, napi_get_element(env, array, i, &element), "mlpStep: cannot read a layer")) return false;
    mtlkit::Dense d;
    if (!ReadLayer(env, element, &d)) return false;
    if (!layers->empty() && layers->back().out != d.in) {
      napi_throw_range_error(env, nullptr, "mtlkit native: mlpStep layers do not chain (out ≠ next in)");
      return false;
    }
    layers->push_back(d);
  }
  return true;
}

// mlpStep({ x, batch, trunk: [layer], heads: [{ layers, loss, target, weight }], adam: [8], clipNorm })
//   → { losses: number[], gradNorm, applied }. See mlp_step.h.
napi_value MlpStepBinding(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (!Check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "bad call")) return nullptr;
  napi_valuetype specType = napi_undefined;
  if (argc < 1 || napi_typeof(env, argv[0], &specType) != napi_ok || specType != napi_object) {
    napi_throw_type_error(env, nullptr, "mtlkit native: mlpStep expects one object");
    return nullptr;
  }
  napi_value spec = argv[0];
  float* x;
  size_t xLength;
  int64_t batch = 0;
  double clipNorm = 0;
  if (!GetFloatArray(env, Property(env, spec, "x"), &x, &xLength, "x") || !GetInt(env, Property(env, spec, "batch"), &batch, "batch") ||
      !GetDouble(env, Property(env, spec, "clipNorm"), &clipNorm, "clipNorm")) {
    return nullptr;
  }
  std::vector<mtlkit::Dense> trunk;
  if (!ReadLayers(env, Property(env, spec, "trunk"), &trunk, "trunk")) return nullptr;
  int64_t xNeed = 0;
  if (batch < 1 || batch > INT_MAX || trunk.empty() || !MulChecked(batch, trunk[0].in, &xNeed) || xLength != static_cast<uint64_t>(xNeed)) {
    napi_throw_range_error(env, nullptr, "mtlkit native: mlpStep x does not match batch × the first layer's inputs");
    return nullptr;
  }
  napi_value headsArray = Property(env, spec, "heads");
  uint32_t headCount = 0;
  if (!GetArray(env, headsArray, &headCount, "heads")) return nullptr;
  std::vector<mtlkit::Head> heads(headCount);
  for (uint32_t t = 0; t < headCount; ++t) {
    napi_value h;
    if (!Check(env, napi_get_element(env, headsArray, t, &h), "mlpStep: cannot read a head")) return nullptr;
    if (!ReadLayers(env, Property(env, h, "layers"), &heads[t].layers, "layers")) return nullptr;
    if (heads[t].layers.empty() || heads[t].layers[0].in != trunk.back().out) {
      napi_throw_range_error(env, nullptr, "mtlkit native: mlpStep head does not read the trunk's output");
      return nullptr;
    }
    int64_t loss = 0;
    if (!GetInt(env, Property(env, h, "loss"), &loss, "loss") || !GetDouble(env, Property(env, h, "weight"), &heads[t].weight, "weight")) return nullptr;
    // Only the codes mlp_step.h defines: any other value cast to the enum would silently run one of them.
    if (loss != static_cast<int64_t>(mtlkit::Loss::SoftmaxCrossEntropy) && loss != static_cast<int64_t>(mtlkit::Loss::MeanSquaredError) &&
        loss != static_cast<int64_t>(mtlkit::Loss::SigmoidCrossEntropy)) {
      RangeError(env, "mlpStep head " + std::to_string(t) + " has unknown loss code " + std::to_string(loss) +
                          " (0 softmax cross-entropy, 1 mean squared error, 2 sigmoid cross-entropy)");
      return nullptr;
    }
    if (!std::isfinite(heads[t].weight)) {
      RangeError(env, "mlpStep head " + std::to_string(t) + " has a weight that is not finite");
      return nullptr;
    }
    heads[t].loss = static_cast<mtlkit::Loss>(loss);
    napi_value target = Property(env, h, "target");
    napi_typedarray_type type;
    size_t length;
    void* data;
    napi_value buffer;
    size_t offset;
    bool isTyped = false;
    if (target == nullptr || napi_is_typedarray(env, target, &isTyped) != napi_ok || !isTyped ||
        napi_get_typedarray_info(env, target, &type, &length, &data, &buffer, &offset) != napi_ok) {
      napi_throw_type_error(env, nullptr, "mtlkit native: mlpStep head target must be a typed array");
      return nullptr;
    }
    const size_t width = heads[t].layers.back().out;
    if (loss == 0) {
      if (type != napi_int32_array || length != static_cast<size_t>(batch)) {
        napi_throw_range_error(env, nullptr, "mtlkit native: class targets must be an Int32Array of batch labels");
        return nullptr;
      }
      heads[t].targetI = static_cast<const int*>(data);
      for (size_t i = 0; i < length; ++i) {
        if (heads[t].targetI[i] < 0 || static_cast<size_t>(heads[t].targetI[i]) >= width) {
          napi_throw_range_error(env, nullptr, "mtlkit native: a class target is outside the class range");
          return nullptr;
        }
      }
    } else {
      int64_t targetNeed = 0;
      if (type != napi_float32_array || !MulChecked(batch, static_cast<int64_t>(width), &targetNeed) || length != static_cast<uint64_t>(targetNeed)) {
        napi_throw_range_error(env, nullptr, "mtlkit native: value targets must be a Float32Array of batch × outputs");
        return nullptr;
      }
      heads[t].targetF = static_cast<const float*>(data);
    }
  }
  napi_value adamArray = Property(env, spec, "adam");
  uint32_t adamLength = 0;
  if (!GetArray(env, adamArray, &adamLength, "adam")) return nullptr;
  if (adamLength != 8) {
    RangeError(env, "mlpStep adam must hold 8 numbers (got " + std::to_string(adamLength) + ")");
    return nullptr;
  }
  double a[8];
  for (uint32_t i = 0; i < 8; ++i) {
    napi_value element;
    if (!Check(env, napi_get_element(env, adamArray, i, &element), "mlpStep: cannot read adam")) return nullptr;
    if (!GetDouble(env, element, &a[i], "adam[i]")) return nullptr;
  }
  const mtlkit::Adam adam = mtlkit::AdamConstants(a);
  const mtlkit::StepResult r = mtlkit::MlpStep(x, static_cast<int>(batch), trunk, heads, adam, clipNorm);
  napi_value result, losses, norm, applied;
  napi_create_object(env, &result);
  napi_create_array_with_length(env, r.losses.size(), &losses);
  for (size_t i = 0; i < r.losses.size(); ++i) {
    napi_value v;
    napi_create_double(env, r.losses[i], &v);
    napi_set_element(env, losses, static_cast<uint32_t>(i), v);
  }
  napi_create_double(env, r.gradNorm, &norm);
  napi_get_boolean(env, r.applied, &applied);
  napi_set_named_property(env, result, "losses", losses);
  napi_set_named_property(env, result, "gradNorm", norm);
  napi_set_named_property(env, result, "applied", applied);
  return result;
}

// Reads `count` whole numbers from a JavaScript array into out, each within [min, INT_MAX].
bool GetGeometry(napi_env env, napi_value value, uint32_t count, const char* const* names, const int* mins, int64_t* out) {
  uint32_t length = 0;
  if (!GetArray(env, value, &length, "geometry")) return false;
  if (length != count) return RangeError(env, "geometry must hold " + std::to_string(count) + " numbers (got " + std::to_string(length) + ")");
  for (uint32_t i = 0; i < count; ++i) {
    napi_value element;
    if (!Check(env, napi_get_element(env, value, i, &element), "cannot read the geometry")) return false;
    if (!GetDim(env, element, &out[i], names[i], mins[i])) return false;
  }
  return true;
}

// a·b·c·d with overflow checks.
bool Product(std::initializer_list<int64_t> factors, int64_t* out) {
  int64_t p = 1;
  for (int64_t f : factors) {
    if (!MulChecked(p, f, &p)) return false;
  }
  *out = p;
  return true;
}

// The farthest input coordinate a window reaches, (out − 1)·stride + (filter − 1)·dilation, must
// stay well inside an int so the kernels' index arithmetic cannot overflow.
bool ReachFits(int64_t out, int64_t stride, int64_t filter, int64_t dilation, int64_t pad) {
  int64_t a, b;
  return MulChecked(out - 1, stride, &a) && MulChecked(filter - 1, dilation, &b) && a + b + pad < INT_MAX / 2;
}

bool CheckLength(napi_env env, size_t length, int64_t need, const char* name) {
  if (static_cast<uint64_t>(need) == length) return true;
  return RangeError(env, std::string("argument '") + name + "' must hold " + std::to_string(need) + " floats for this geometry (got " +
                             std::to_string(length) + ")");
}

// conv2d(op, a, b, out, [batch, inH, inW, inC, outH, outW, outC, fH, fW, strideH, strideW,
//        dilationH, dilationW, padTop, padLeft]); op 0: y = conv(x = a, w = b); op 1: dx = ∂ from
// dy = a, w = b; op 2: dw = ∂ from x = a, dy = b. See conv_pool.h.
napi_value Conv2dBinding(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (!Check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "bad call")) return nullptr;
  if (argc != 5) {
    TypeError(env, "conv2d expects 5 arguments");
    return nullptr;
  }
  int64_t op = 0;
  if (!GetInt(env, argv[0], &op, "op")) return nullptr;
  if (op < 0 || op > 2) {
    RangeError(env, "conv2d op must be 0 (forward), 1 (input gradient) or 2 (filter gradient), got " + std::to_string(op));
    return nullptr;
  }
  static const char* const names[15] = {"batch", "inH", "inW", "inC", "outH", "outW", "outC", "fH", "fW", "strideH", "strideW", "dilationH",
                                        "dilationW", "padTop", "padLeft"};
  static const int mins[15] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
  int64_t v[15];
  if (!GetGeometry(env, argv[4], 15, names, mins, v)) return nullptr;
  const mtlkit::ConvGeometry g{static_cast<int>(v[0]), static_cast<int>(v[1]), static_cast<int>(v[2]), static_cast<int>(v[3]),
                               static_cast<int>(v[4]), static_cast<int>(v[5]), static_cast<int>(v[6]), static_cast<int>(v[7]),
                               static_cast<int>(v[8]), static_cast<int>(v[9]), static_cast<int>(v[10]), static_cast<int>(v[11]),
                               static_cast<int>(v[12]), static_cast<int>(v[13]), static_cast<int>(v[14])};
  int64_t xSize, wSize, ySize, rows, k;
  if (!Product({g.batch, g.inH, g.inW, g.inC}, &xSize) || !Product({g.fH, g.fW, g.inC, g.outC}, &wSize) ||
      !Product({g.batch, g.outH, g.outW, g.outC}, &ySize) || !Product({g.batch, g.outH, g.outW}, &rows) || !Product({g.fH, g.fW, g.inC}, &k) ||
      rows > INT_MAX || k > INT_MAX || xSize > INT_MAX || !ReachFits(g.outH, g.strideH, g.fH, g.dilationH, g.padTop) ||
      !ReachFits(g.outW, g.strideW, g.fW, g.dilationW, g.padLeft)) {
    RangeError(env, "conv2d geometry is too large");
    return nullptr;
  }
  float *a, *b, *out;
  size_t la, lb, lo;
  if (!GetFloatArray(env, argv[1], &a, &la, "a") || !GetFloatArray(env, argv[2], &b, &lb, "b") || !GetFloatArray(env, argv[3], &out, &lo, "out")) {
    return nullptr;
  }
  if (op == 0) {
    if (!CheckLength(env, la, xSize, "x") || !CheckLength(env, lb, wSize, "filter") || !CheckLength(env, lo, ySize, "y")) return nullptr;
    mtlkit::Conv2dForward(g, a, b, out);
  } else if (op == 1) {
    if (!CheckLength(env, la, ySize, "dy") || !CheckLength(env, lb, wSize, "filter") || !CheckLength(env, lo, xSize, "dx")) return nullptr;
    mtlkit::Conv2dBackpropInput(g, a, b, out);
  } else {
    if (!CheckLength(env, la, xSize, "x") || !CheckLength(env, lb, ySize, "dy") || !CheckLength(env, lo, wSize, "dw")) return nullptr;
    mtlkit::Conv2dBackpropFilter(g, a, b, out);
  }
  return nullptr;
}

// pool(op, a, b, out, [batch, inH, inW, channels, outH, outW, fH, fW, strideH, strideW, padTop,
//      padLeft]); op 0: y = maxpool(x = a); 1: y = avgpool(x = a); 2: dx from x = a, dy = b (max);
// 3: dx from dy = a (average). b is unused (any Float32Array) for ops 0, 1 and 3.
napi_value PoolBinding(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (!Check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "bad call")) return nullptr;
  if (argc != 5) {
    TypeError(env, "pool expects 5 arguments");
    return nullptr;
  }
  int64_t op = 0;
  if (!GetInt(env, argv[0], &op, "op")) return nullptr;
  if (op < 0 || op > 3) {
    RangeError(env, "pool op must be 0 (max), 1 (average), 2 (max gradient) or 3 (average gradient), got " + std::to_string(op));
    return nullptr;
  }
  static const char* const names[12] = {"batch", "inH", "inW", "channels", "outH", "outW", "fH", "fW", "strideH", "strideW", "padTop", "padLeft"};
  static const int mins[12] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
  int64_t v[12];
  if (!GetGeometry(env, argv[4], 12, names, mins, v)) return nullptr;
  const mtlkit::PoolGeometry g{static_cast<int>(v[0]), static_cast<int>(v[1]), static_cast<int>(v[2]), static_cast<int>(v[3]),
                               static_cast<int>(v[4]), static_cast<int>(v[5]), static_cast<int>(v[6]), static_cast<int>(v[7]),
                               static_cast<int>(v[8]), static_cast<int>(v[9]), static_cast<int>(v[10]), static_cast<int>(v[11])};
  int64_t xSize, ySize;
  if (!Product({g.batch, g.inH, g.inW, g.channels}, &xSize) || !Product({g.batch, g.outH, g.outW, g.channels}, &ySize) ||
      !ReachFits(g.outH, g.strideH, g.fH, 1, g.padTop) || !ReachFits(g.outW, g.strideW, g.fW, 1, g.padLeft) ||
      int64_t{g.fH} * g.fW > INT_MAX / 2) {
    RangeError(env, "pool geometry is too large");
    return nullptr;
  }
  float *a, *b, *out;
  size_t la, lb, lo;
  if (!GetFloatArray(env, argv[1], &a, &la, "a") || !GetFloatArray(env, argv[2], &b, &lb, "b") || !GetFloatArray(env, argv[3], &out, &lo, "out")) {
    return nullptr;
  }
  if (op == 0 || op == 1) {
    if (!CheckLength(env, la, xSize, "x") || !CheckLength(env, lo, ySize, "y")) return nullptr;
    if (op == 0) mtlkit::MaxPoolForward(g, a, out);
    else mtlkit::AvgPoolForward(g, a, out);
  } else if (op == 2) {
    if (!CheckLength(env, la, xSize, "x") || !CheckLength(env, lb, ySize, "dy") || !CheckLength(env, lo, xSize, "dx")) return nullptr;
    mtlkit::MaxPoolBackward(g, a, b, out);
  } else {
    if (!CheckLength(env, la, ySize, "dy") || !CheckLength(env, lo, xSize, "dx")) return nullptr;
    mtlkit::AvgPoolBackward(g, a, out);
  }
  return nullptr;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (!Check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "bad call")) return nullptr;
  int64_t threads = 1;
  if (argc < 1) {
    TypeError(env, "setThreads expects a number of threads");
    return nullptr;
  }
  if (!GetInt(env, argv[0], &threads, "threads")) return nullptr;
  openblas_set_num_threads(static_cast<int>(std::clamp<int64_t>(threads, 1, INT_MAX)));
  return nullptr;
}

napi_value Info(napi_env env, napi_callback_info) {
  napi_value result, threads, config;
  napi_create_object(env, &result);
  napi_create_int32(env, openblas_get_num_threads(), &threads);
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &config);
  napi_set_named_property(env, result, "threads", threads);
  napi_set_named_property(env, result, "blas", config);
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"gemm", nullptr, Gemm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"fusedGemm", nullptr, FusedGemm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"biasActivation", nullptr, BiasActivationBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"denseGrad", nullptr, DenseGradBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reduceSum", nullptr, ReduceSumBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adam", nullptr, Adam, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumOfSquares", nullptr, SumOfSquares, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"mlpStep", nullptr, MlpStepBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2d", nullptr, Conv2dBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"pool", nullptr, PoolBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
