#!/usr/bin/env bash
# Builds native/ (the oneDNN addon, src/backend/native.ts) when g++, make and libdnnl-dev are here;
# otherwise prints one line and exits 0: the wasm path runs instead and never needs it.
# Node's headers come with the installed Node (--nodedir = its install prefix, which has
# include/node): node-gyp downloads nothing. Rebuilt only when native/ is newer than the build.
#   bash scripts/build-native.sh          build if needed
#   bash scripts/build-native.sh --force  rebuild
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/native" || exit 0
say() { echo "[native] $*"; }
out=build/Release/whisper_dnnl.node
if [ "${1:-}" != "--force" ] && [ -f "$out" ] && [ "$out" -nt dnnl.cc ] && [ "$out" -nt decode.cc ] && [ "$out" -nt step.cc ] && [ "$out" -nt kernels.h ] && [ "$out" -nt cephes.h ] && [ "$out" -nt napi.h ] && [ "$out" -nt binding.gyp ]; then exit 0; fi
for tool in g++ make python3; do
  command -v "$tool" >/dev/null 2>&1 || { say "not built: $tool missing (the wasm path runs; see README, Backends)"; exit 0; }
done
if [ ! -f /usr/include/oneapi/dnnl/dnnl.h ] && [ ! -f /usr/include/dnnl.h ] && [ ! -f "${CONDA_PREFIX:-/nonexistent}/include/dnnl.h" ]; then
  say "not built: oneDNN headers missing (apt-get install libdnnl-dev; the wasm path runs)"
  exit 0
fi
nodedir="$(dirname "$(dirname "$(command -v node)")")"
if [ ! -f "$nodedir/include/node/node_api.h" ]; then
  say "not built: no Node headers in $nodedir/include/node (the wasm path runs)"
  exit 0
fi
gyp="$root/node_modules/.bin/node-gyp"
if [ ! -x "$gyp" ]; then
  gyp="$(dirname "$(command -v npm)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
  [ -f "$gyp" ] || { say "not built: node-gyp not found (the wasm path runs)"; exit 0; }
  gyp="node $gyp"
fi
if log=$($gyp rebuild --nodedir="$nodedir" 2>&1); then
  say "built native/$out (oneDNN: the wasm backend's products run on it; WHISPER_BACKEND=wasm runs without)"
else
  say "not built: node-gyp failed (the wasm path runs); the compiler said:"
  { echo "$log" | grep -m 3 -E 'error|Error' | grep -v '^gyp ERR' || echo "$log" | tail -n 5; } | sed 's/^/[native]   /'
fi
exit 0
