# Two builds of the same sources: bitscale_cpu for any x86-64, bitscale_cpu_avx2 with AVX2 + FMA, which the
# loader (src/backends/cpu/load-addon.ts) picks when the CPU reports both. OpenBLAS dispatches on its own.
# ../common holds the headers shared with the CUDA build (native/cuda/build.sh).
{
  "target_defaults": {
    "sources": ["<!@(ls *.cc)"],
    "include_dirs": ["../common", "/usr/include/x86_64-linux-gnu/openblas-pthread", "/usr/include/openblas"],
    "cflags_cc!": ["-fno-exceptions", "-O2"],
    "cflags!": ["-O2"],
    "cflags_cc": [
      "-std=c++17", "-O3", "-ftree-vectorize", "-fopenmp", "-fexceptions",
      "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wno-unused-function"
    ],
    "ldflags": ["-fopenmp"],
    "libraries": ["-lopenblas", "-lgomp"]
  },
  "targets": [
    { "target_name": "bitscale_cpu" },
    { "target_name": "bitscale_cpu_avx2", "cflags_cc": ["-mavx2", "-mfma"] }
  ]
}
