{
  "targets": [
    {
      "target_name": "mtlkit_native",
      "sources": ["src/mtlkit_native.cc", "src/mlp_step.cc"],
      "include_dirs": ["/usr/include/x86_64-linux-gnu/openblas-pthread", "/usr/include/openblas"],
      "libraries": ["-lopenblas"],
      "cflags_cc": ["-O3", "-std=c++17", "-ffp-contract=off", "-fno-fast-math"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
