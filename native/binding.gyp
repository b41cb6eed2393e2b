{
  "targets": [{
    "target_name": "whisper_dnnl",
    "sources": ["dnnl.cc", "decode.cc"],
    "cflags_cc": ["-O2", "-fopenmp", "-ffp-contract=off"],
    "libraries": ["-ldnnl", "-fopenmp"]
  }]
}
