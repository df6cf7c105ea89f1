// mtlkit's optional native kernels: single-precision matrix products through OpenBLAS, called
// from Node-API on Float32Array views (for the wasm backend, views straight into its heap, so no
// copy is made). The TypeScript side (lib/native/) registers them as tfjs kernels.
#include <node_api.h>
#include <cblas.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace {

bool Check(napi_env env, napi_status status, const char* what) {
  if (status == napi_ok) return true;
  napi_throw_error(env, nullptr, what);
  return false;
}

bool GetFloatArray(napi_env env, napi_value value, float** data, size_t* length, const char* name) {
  napi_typedarray_type type;
  void* raw = nullptr;
  napi_value buffer;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, &buffer, &offset) != napi_ok || type != napi_float32_array) {
    std::string message = std::string("mtlkit native: argument '") + name + "' must be a Float32Array";
    napi_throw_type_error(env, nullptr, message.c_str());
    return false;
  }
  *data = static_cast<float*>(raw);
  return true;
}

bool GetInt(napi_env env, napi_value value, int64_t* out, const char* name) {
  if (napi_get_value_int64(env, value, out) != napi_ok) {
    std::string message = std::string("mtlkit native: argument '") + name + "' must be an integer";
    napi_throw_type_error(env, nullptr, message.c_str());
    return false;
  }
  return true;
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
  bool transA = false, transB = false;
  napi_get_value_bool(env, argv[0], &transA);
  napi_get_value_bool(env, argv[1], &transB);
  int64_t batch, m, n, k, strideA, strideB;
  if (!GetInt(env, argv[2], &batch, "batch") || !GetInt(env, argv[3], &m, "m") || !GetInt(env, argv[4], &n, "n") ||
      !GetInt(env, argv[5], &k, "k") || !GetInt(env, argv[7], &strideA, "strideA") || !GetInt(env, argv[9], &strideB, "strideB")) {
    return nullptr;
  }
  float *a, *b, *c;
  size_t lengthA, lengthB, lengthC;
  if (!GetFloatArray(env, argv[6], &a, &lengthA, "a") || !GetFloatArray(env, argv[8], &b, &lengthB, "b") ||
      !GetFloatArray(env, argv[10], &c, &lengthC, "c")) {
    return nullptr;
  }
  // Bounds: every access must stay inside the arrays the caller passed.
  const int64_t needA = (batch - 1) * strideA + m * k, needB = (batch - 1) * strideB + k * n, needC = batch * m * n;
  if (batch < 1 || m < 0 || n < 0 || k < 0 || static_cast<int64_t>(lengthA) < needA || static_cast<int64_t>(lengthB) < needB ||
      static_cast<int64_t>(lengthC) < needC) {
    napi_throw_range_error(env, nullptr, "mtlkit native: gemm operand shapes do not fit the arrays given");
    return nullptr;
  }
  const int lda = transA ? static_cast<int>(m) : static_cast<int>(k);
  const int ldb = transB ? static_cast<int>(k) : static_cast<int>(n);
  for (int64_t i = 0; i < batch; ++i) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, static_cast<int>(m),
                static_cast<int>(n), static_cast<int>(k), 1.0f, a + i * strideA, lda, b + i * strideB, ldb, 0.0f, c + i * m * n,
                static_cast<int>(n));
  }
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
//      epsilon, negLearningRate): one Adam update in place, with tfjs's AdamOptimizer's float32 operations
// in tfjs's order (so the wasm backend's results are reproduced bit for bit):
//   m ← m·β1 + g·(1−β1);  v ← v·β2 + g²·(1−β2);  value ← (m/(1−β1ᵗ)) / (sqrt(v/(1−β2ᵗ)) + ε) · (−lr) + value
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
  const float b1 = static_cast<float>(d[0]), b2 = static_cast<float>(d[1]), c1 = static_cast<float>(d[2]),
              c2 = static_cast<float>(d[3]), a1 = static_cast<float>(d[4]), a2 = static_cast<float>(d[5]),
              eps = static_cast<float>(d[6]), negLr = static_cast<float>(d[7]);
  for (size_t i = 0; i < n; ++i) {
    const float g = grad[i];
    const float m1 = m[i] * b1;
    const float m2 = g * c1;
    const float mNew = m1 + m2;
    const float g2 = g * g;
    const float v1 = v[i] * b2;
    const float v2 = g2 * c2;
    const float vNew = v1 + v2;
    const float mHat = mNew / a1;
    const float vHat = vNew / a2;
    const float denom = std::sqrt(vHat) + eps;
    const float step = (mHat / denom) * negLr;
    m[i] = mNew;
    v[i] = vNew;
    value[i] = step + value[i];
  }
  return nullptr;
}

// sumOfSquares(arrays): Σ x² over every element of every Float32Array, accumulated in double
// precision (float32 squares cannot overflow a double), NaN or ±Infinity when any element is.
napi_value SumOfSquares(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  bool isArray = false;
  if (argc < 1 || napi_is_array(env, argv[0], &isArray) != napi_ok || !isArray) {
    napi_throw_type_error(env, nullptr, "mtlkit native: sumOfSquares expects an array of Float32Arrays");
    return nullptr;
  }
  uint32_t count = 0;
  napi_get_array_length(env, argv[0], &count);
  double total = 0.0;
  for (uint32_t j = 0; j < count; ++j) {
    napi_value element;
    napi_get_element(env, argv[0], j, &element);
    float* data;
    size_t n;
    if (!GetFloatArray(env, element, &data, &n, "arrays[i]")) return nullptr;
    double partial = 0.0;
    for (size_t i = 0; i < n; ++i) partial += static_cast<double>(data[i]) * static_cast<double>(data[i]);
    total += partial;
  }
  napi_value result;
  napi_create_double(env, total, &result);
  return result;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int64_t threads = 1;
  if (argc < 1 || !GetInt(env, argv[0], &threads, "threads")) return nullptr;
  openblas_set_num_threads(static_cast<int>(threads < 1 ? 1 : threads));
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
      {"adam", nullptr, Adam, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumOfSquares", nullptr, SumOfSquares, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
