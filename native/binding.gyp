{
  "targets": [{
    "target_name": "whisper_dnnl",
    "sources": ["dnnl.cc"],
    "cflags_cc": ["-O2", "-fopenmp"],
    "libraries": ["-ldnnl", "-fopenmp"]
  }]
}
