{
  "targets": [{
    "target_name": "whisper_dnnl",
    "sources": ["dnnl.cc", "decode.cc", "step.cc"],
    "cflags_cc": ["-O3", "-fopenmp", "-fexceptions", "-ffp-contract=off", "-fno-math-errno"], "cflags_cc!": ["-fno-exceptions"],
    "libraries": ["-ldnnl", "-fopenmp"]
  }]
}
