{
  # OpenBLAS: from pkg-config where it knows the library (any distribution, Homebrew with PKG_CONFIG_PATH),
  # else the compiler's own search paths with -lopenblas. scripts/build-native.js checks first that one of
  # the two works and records a clear reason in native/build-status.json when neither does.
  # -fno-math-errno lets the compiler vectorise sqrt (Adam's update): results are unchanged, sqrt and
  # division are exactly rounded either way; only errno is no longer set for sqrt of a negative.
  "targets": [
    {
      "target_name": "mtlkit_native",
      "sources": ["src/mtlkit_native.cc", "src/mlp_step.cc", "src/conv_pool.cc", "src/dense.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-ffp-contract=off", "-fno-fast-math", "-fno-math-errno", "<!@(pkg-config --cflags openblas 2>/dev/null || true)"],
      "libraries": ["<!@(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)"],
      "ldflags": ["<!@(pkg-config --libs-only-L openblas 2>/dev/null | sed -e 's/-L/-Wl,-rpath,/g' || true)"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [
        [
          "OS=='mac'",
          {
            "xcode_settings": {
              "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
              "OTHER_CPLUSPLUSFLAGS": ["-O3", "-ffp-contract=off", "-fno-fast-math", "-fno-math-errno", "<!@(pkg-config --cflags openblas 2>/dev/null || true)"]
            }
          }
        ]
      ]
    }
  ]
}
